package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/group"
	"k8s.io/apiserver/pkg/authentication/request/bearertoken"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
)

// testTokenPrefix starts a test service account token: nha-test-sa:NAMESPACE:NAME[:NODE].
const testTokenPrefix = "nha-test-sa:"

// testServiceAccountTokens stands in for kube-apiserver's service account token authenticator: it yields the user
// that authenticator yields for a pod-bound token (upstream ServiceAccountInfo.UserInfo: the username
// system:serviceaccount:NS:NAME, its groups, and the node claim as extra authentication.kubernetes.io/node-name),
// without a JWT. Tests only: anyone who can reach the server can name any account, as --always-allow lets anyone do
// anything.
type testServiceAccountTokens struct{}

func (testServiceAccountTokens) AuthenticateToken(_ context.Context, token string) (*authenticator.Response, bool, error) {
	rest, ok := strings.CutPrefix(token, testTokenPrefix)
	if !ok {
		return nil, false, nil // not ours: the next authenticator decides
	}
	parts := strings.Split(rest, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return nil, false, fmt.Errorf("test service account token: want %sNAMESPACE:NAME[:NODE]", testTokenPrefix)
	}
	sa := serviceaccount.ServiceAccountInfo{Namespace: parts[0], Name: parts[1], UID: "test-sa-" + parts[0] + "-" + parts[1]}
	if len(parts) == 3 {
		sa.NodeName = parts[2] // empty: a token without the node claim (Kubernetes before 1.30)
	}
	return &authenticator.Response{User: sa.UserInfo()}, true, nil
}

// withTestServiceAccountTokens authenticates requests that carry a test token (a malformed one is refused, 401,
// as kube-apiserver refuses a bad token) and hands every other request to next (client certificates, anonymous).
func withTestServiceAccountTokens(next authenticator.Request) authenticator.Request {
	tokens := group.NewAuthenticatedGroupAdder(bearertoken.New(testServiceAccountTokens{}))
	return authenticator.RequestFunc(func(req *http.Request) (*authenticator.Response, bool, error) {
		f := strings.Fields(req.Header.Get("Authorization"))
		if len(f) == 2 && strings.EqualFold(f[0], "bearer") && strings.HasPrefix(f[1], testTokenPrefix) {
			return tokens.AuthenticateRequest(req)
		}
		return next.AuthenticateRequest(req)
	})
}
