// apiext-standalone: upstream k8s.io/apiextensions-apiserver with /apis discovery
// enabled, so that it works stand-alone with kubectl and ordinary clients.
package main

import (
	"context"
	"os"

	"github.com/spf13/cobra"

	extensionsapiserver "k8s.io/apiextensions-apiserver/pkg/apiserver"
	"k8s.io/apiextensions-apiserver/pkg/cmd/server/options"
	generatedopenapi "k8s.io/apiextensions-apiserver/pkg/generated/openapi"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/util/openapi"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/component-base/cli"
)

func main() {
	ctx := genericapiserver.SetupSignalContext()
	o := options.NewCustomResourceDefinitionsServerOptions(os.Stdout, os.Stderr)
	alwaysAllow := false
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
			return run(c.Context(), o)
		},
	}
	cmd.SetContext(ctx)
	o.AddFlags(cmd.Flags())
	cmd.Flags().BoolVar(&alwaysAllow, "always-allow", false,
		"authorize every request (AlwaysAllow) and do not require --authentication-kubeconfig/--authorization-kubeconfig")
	os.Exit(cli.Run(cmd))
}

func run(ctx context.Context, o *options.CustomResourceDefinitionsServerOptions) error {
	config, err := o.Config()
	if err != nil {
		return err
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
	return server.GenericAPIServer.PrepareRun().RunWithContext(ctx)
}
