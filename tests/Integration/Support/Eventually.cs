namespace NginxHa.Integration.Tests.Support;

/// <summary>Waits for the kernel or another process to reach a state the test cannot be notified of.</summary>
public static class Eventually
{
    public static async Task<T> Until<T>(Func<T> probe, Func<T, bool> done, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            T value = probe();
            if (done(value))
                return value;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{what} within {timeout.TotalSeconds} s; last seen: {value}");
            await Task.Delay(50);
        }
    }

    public static async Task<T> UntilAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            T value = await probe();
            if (done(value))
                return value;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{what} within {timeout.TotalSeconds} s; last seen: {value}");
            await Task.Delay(50);
        }
    }
}
