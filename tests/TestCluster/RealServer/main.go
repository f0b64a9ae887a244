// apiext-standalone: upstream k8s.io/apiextensions-apiserver with /apis discovery enabled, so that it works
// stand-alone with kubectl and ordinary clients, plus what the test cluster adds (docs/test-cluster.md): an
// always-allow authorizer, test service account tokens (tokens.go) and the upstream ValidatingAdmissionPolicy
// plugin with its informers read through the cluster's front (admission.go).
package main

import (
	"context"
	"os"

	"github.com/spf13/cobra"

	extensionsapiserver "k8s.io/apiextensions-apiserver/pkg/apiserver"
	"k8s.io/apiextensions-apiserver/pkg/cmd/server/options"
	generatedopenapi "k8s.io/apiextensions-apiserver/pkg/generated/openapi"
	"k8s.io/apiserver/pkg/admission"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/apiserver/pkg/util/openapi"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/component-base/cli"
)

func main() {
	ctx := genericapiserver.SetupSignalContext()
	o := options.NewCustomResourceDefinitionsServerOptions(os.Stdout, os.Stderr)
	alwaysAllow := false
	testTokens := false
	frontPortFile := ""
	cmd := &cobra.Command{
		Use:   "apiext-standalone",
		Short: "Stand-alone CustomResourceDefinition API server (k8s.io/apiextensions-apiserver) with discovery",
		PersistentPreRunE: func(*cobra.Command, []string) error {
			return o.ServerRunOptions.ComponentGlobalsRegistry.Set()
		},
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			if alwaysAllow {
				// nil DelegatingAuthorizationOptions => AlwaysAllow authorizer
				o.RecommendedOptions.Authorization = nil
				// no --authentication-kubeconfig needed (no TokenReview webhook);
				// client certs (--client-ca-file) still authenticate, rest is anonymous
				o.RecommendedOptions.Authentication.RemoteKubeConfigFileOptional = true
			}
			var policies *policyAdmission
			if frontPortFile != "" {
				var err error
				if policies, err = newPolicyAdmission(frontPortFile); err != nil {
					return err
				}
				o.RecommendedOptions.ExtraAdmissionInitializers = func(*genericapiserver.RecommendedConfig) ([]admission.PluginInitializer, error) {
					return []admission.PluginInitializer{policies}, nil
				}
			}
			return run(c.Context(), o, testTokens, policies)
		},
	}
	cmd.SetContext(ctx)
	o.AddFlags(cmd.Flags())
	cmd.Flags().BoolVar(&alwaysAllow, "always-allow", false,
		"authorize every request (AlwaysAllow) and do not require --authentication-kubeconfig/--authorization-kubeconfig")
	cmd.Flags().BoolVar(&testTokens, "test-service-account-tokens", false,
		"accept bearer tokens "+testTokenPrefix+"NAMESPACE:NAME[:NODE] as that service account, with the node claim a pod-bound token carries (tests only: nothing is signed)")
	cmd.Flags().StringVar(&frontPortFile, "policy-admission-front-port-file", "",
		"the file the test cluster's front writes its port to: the ValidatingAdmissionPolicy plugin reads Namespaces and the policies through the front (without it, leave the plugin disabled)")
	os.Exit(cli.Run(cmd))
}

func run(ctx context.Context, o *options.CustomResourceDefinitionsServerOptions, testTokens bool, policies *policyAdmission) error {
	config, err := o.Config()
	if err != nil {
		return err
	}
	if testTokens {
		// Requests without such a token (the front's client certificate) authenticate as before.
		config.GenericConfig.Authentication.Authenticator = withTestServiceAccountTokens(config.GenericConfig.Authentication.Authenticator)
	}
	// upstream only configures OpenAPI v3; kubectl's client-side validation
	// also downloads /openapi/v2 (same as the upstream test server does)
	config.GenericConfig.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(
		openapi.GetOpenAPIDefinitionsWithoutDisabledFeatures(generatedopenapi.GetOpenAPIDefinitions),
		openapinamer.NewDefinitionNamer(extensionsapiserver.Scheme, scheme.Scheme))
	completed := config.Complete()
	completed.GenericConfig.EnableDiscovery = true // upstream forces false
	server, err := completed.New(genericapiserver.NewEmptyDelegate())
	if err != nil {
		return err
	}
	if policies != nil {
		server.GenericAPIServer.AddPostStartHookOrDie("nha-start-policy-admission-informers", func(hc genericapiserver.PostStartHookContext) error {
			go policies.startWhenServed(hc.Context)
			return nil
		})
		if err := server.GenericAPIServer.AddReadyzChecks(healthz.NamedCheck(policyAdmissionCheck, policies.ready)); err != nil {
			return err
		}
	}
	return server.GenericAPIServer.PrepareRun().RunWithContext(ctx)
}
