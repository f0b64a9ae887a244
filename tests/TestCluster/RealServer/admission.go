package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/initializer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
)

// policyAdmissionCheck is the readyz check (/readyz/nha-policy-admission) that passes once the plugin is ready.
const policyAdmissionCheck = "nha-policy-admission"

// policyAdmission wires the upstream ValidatingAdmissionPolicy plugin into the test cluster. The plugin is ready
// (and admits anything) only when its informers for Namespaces, policies and bindings have synced. Namespaces are
// core/v1, which only the stand-in serves, so these informers read through the front; they start once the front
// answers and the policy kinds (stand-in CRDs that `cluster.sh up` applies) are served, so the plugin is ready
// about 100 ms later instead of after the reflectors' back-off of several seconds.
type policyAdmission struct {
	client  kubernetes.Interface
	factory informers.SharedInformerFactory
	started atomic.Bool
}

func newPolicyAdmission(frontPortFile string) (*policyAdmission, error) {
	cfg := &rest.Config{
		// The front picks its port when it starts, after this server: every connection reads the port file.
		Host: "http://test-cluster-front",
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			port, err := os.ReadFile(frontPortFile)
			if err != nil {
				return nil, fmt.Errorf("the test cluster front is not up: %w", err)
			}
			var d net.Dialer
			return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", strings.TrimSpace(string(port))))
		},
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client for the test cluster front: %w", err)
	}
	return &policyAdmission{client: client, factory: informers.NewSharedInformerFactory(client, 10*time.Minute)}, nil
}

// Initialize runs after the generic initializer: it replaces the informers and client that one gave the plugin
// (on the server's own --kubeconfig, which serves no core/v1) and keeps CRDs out of policy admission, because
// the policy kinds are themselves CRDs: while the plugin is not ready it refuses every write, so applying them
// through it could never succeed.
func (p *policyAdmission) Initialize(plugin admission.Interface) {
	if w, ok := plugin.(initializer.WantsExternalKubeInformerFactory); ok {
		w.SetExternalKubeInformerFactory(p.factory)
	}
	if w, ok := plugin.(initializer.WantsExternalKubeClientSet); ok {
		w.SetExternalKubeClientSet(p.client)
	}
	if w, ok := plugin.(initializer.WantsExcludedAdmissionResources); ok {
		w.SetExcludedAdmissionResources([]schema.GroupResource{{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}})
	}
}

func (p *policyAdmission) startWhenServed(ctx context.Context) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	waitingSince := time.Now()
	for {
		err := p.served(ctx)
		if err == nil {
			p.factory.Start(ctx.Done())
			p.started.Store(true)
			klog.Infof("ValidatingAdmissionPolicy informers started through the test cluster front after %v", time.Since(waitingSince).Round(time.Millisecond))
			return
		}
		if time.Since(waitingSince) > 30*time.Second {
			klog.Warningf("ValidatingAdmissionPolicy informers still waiting: %v", err)
			waitingSince = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// served lists what the plugin's informers watch, one item each: nil once all are served.
func (p *policyAdmission) served(ctx context.Context) error {
	one := metav1.ListOptions{Limit: 1}
	if _, err := p.client.CoreV1().Namespaces().List(ctx, one); err != nil {
		return fmt.Errorf("namespaces: %w", err)
	}
	if _, err := p.client.AdmissionregistrationV1().ValidatingAdmissionPolicies().List(ctx, one); err != nil {
		return fmt.Errorf("validatingadmissionpolicies: %w", err)
	}
	if _, err := p.client.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().List(ctx, one); err != nil {
		return fmt.Errorf("validatingadmissionpolicybindings: %w", err)
	}
	return nil
}

func (p *policyAdmission) ready(*http.Request) error {
	if !p.started.Load() {
		return errors.New("policy informers not started: waiting for the front and the admissionregistration.k8s.io CRDs")
	}
	now := make(chan struct{})
	close(now) // report the state now, do not wait
	for informer, synced := range p.factory.WaitForCacheSync(now) {
		if !synced {
			return fmt.Errorf("%v not synced", informer)
		}
	}
	return nil
}
