using System.Text;
using NginxHa.NodeAgent.Metrics;

namespace NginxHa.NodeAgent.Tests.Metrics;

/// <summary>The managed SHA-256 behind the nginx config hash: FIPS 180-4 vectors, and .NET's (OpenSSL's) on every padding case.</summary>
public sealed class Sha256Tests
{
    [Theory]
    [InlineData("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")]
    [InlineData("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")]
    public void Known_vectors(string message, string expected) =>
        Assert.Equal(expected, Convert.ToHexStringLower(Sha256.HashData(Encoding.ASCII.GetBytes(message))));

    [Fact]
    public void A_million_a()
    {
        var data = new byte[1_000_000];
        Array.Fill(data, (byte)'a');
        Assert.Equal("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", Convert.ToHexStringLower(Sha256.HashData(data)));
    }

    [Fact]
    public void Matches_the_platform_hash_for_every_length_around_the_block_and_padding_boundaries()
    {
        var random = new Random(5798);
        for (int length = 0; length <= 300; length++)
        {
            var data = new byte[length];
            random.NextBytes(data);
            Assert.Equal(System.Security.Cryptography.SHA256.HashData(data), Sha256.HashData(data));
        }
    }

    [Fact]
    public void The_config_hash_is_the_first_12_hex_digits_of_the_sha256_of_the_utf8_text()
    {
        const string config = "events {}\nhttp { server { listen 80; server_name é.example; } }\n";
        var expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(config)))[..12];
        Assert.Equal(expected, NginxHa.NodeAgent.Nginx.NginxConfigHash.Of(config));
    }
}
