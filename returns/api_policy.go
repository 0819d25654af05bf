package returns

import (
	"context"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/audit"
	"github.com/roundtriphq/roundtrip/internal/auth"
)

// The return policy operations (admin).

func registerPolicy(api huma.API, a *API) {
	huma.Register(api, huma.Operation{
		OperationID: "get-policy",
		Method:      http.MethodGet,
		Path:        "/v1/policy",
		Summary:     "Get the return policy",
		Description: "The current policy; version 0 is the default policy of a merchant who never set one.",
		Tags:        []string{"Policy"},
		Security:    auth.Staff(),
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden},
	}, a.getPolicy)
	huma.Register(api, huma.Operation{
		OperationID: "put-policy",
		Method:      http.MethodPut,
		Path:        "/v1/policy",
		Summary:     "Replace the return policy",
		Description: "Stores a new version of the policy; fields left out take their defaults. Returns keep the version they were judged by. The change is recorded in the audit trail.",
		Tags:        []string{"Policy"},
		Security:    auth.Staff(),
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity},
	}, a.putPolicy)
}

type policyOutput struct {
	Body Policy
}

type putPolicyInput struct {
	Body Policy
}

// getPolicy answers the merchant's current return policy.
func (a *API) getPolicy(ctx context.Context, _ *struct{}) (*policyOutput, error) {
	pol, err := a.Store.Policy(ctx, auth.MustFromContext(ctx).MerchantID)
	if err != nil {
		return nil, err
	}
	return &policyOutput{Body: pol}, nil
}

// putPolicy stores a new version of the return policy, and in the audit trail what
// it changed.
func (a *API) putPolicy(ctx context.Context, in *putPolicyInput) (*policyOutput, error) {
	in.Body.fillDefaults()
	if err := in.Body.Validate(); err != nil {
		return nil, err
	}
	p := auth.MustFromContext(ctx)
	var pol Policy
	err := a.Audit.Change(ctx, p.MerchantID, p.Actor, func(tx *sqlx.Tx) (audit.Entry, error) {
		var err error
		if pol, err = PutPolicyIn(ctx, tx, p.MerchantID, in.Body, p.Actor); err != nil {
			return audit.Entry{}, err
		}
		changes, err := PolicyChanges(ctx, tx, p.MerchantID, pol)
		return audit.Entry{Action: audit.PolicyUpdated, Target: fmt.Sprintf("policy v%d", pol.Version), Summary: audit.Lines(changes)}, err
	})
	if err != nil {
		return nil, err
	}
	return &policyOutput{Body: pol}, nil
}
