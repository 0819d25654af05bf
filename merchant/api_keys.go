package merchant

import (
	"context"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/audit"
	"github.com/roundtriphq/roundtrip/internal/auth"
)

type createKeyInput struct {
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Makes the request safe to retry: the same key with the same body replays the first answer; the same key with another body answers 422."`
	Body           struct {
		Role auth.Role `json:"role" enum:"admin,integration,warehouse,finance" doc:"What the key may do." example:"warehouse"`
		Name string    `json:"name,omitempty" maxLength:"100" doc:"A label to recognise the key by." example:"Leeds scan station"`
	}
}

// CreatedKey is a new key with its secret, which is shown only this once.
type CreatedKey struct {
	auth.Key
	Secret string `json:"secret" doc:"The API key. It is shown only now: store it safely." example:"rtk_3fq9x2k1m0p8w7v6u5t4s3r2q1p0o9n8m7l6k"`
}

type createKeyOutput struct {
	Body CreatedKey
}

type listKeysOutput struct {
	Body struct {
		Data []auth.Key `json:"data"`
	}
}

type keyIDInput struct {
	ID string `path:"id" maxLength:"40" doc:"The key's ID (key_…)." example:"key_4h7k0n3q6t9x2b5e8g1j4m7p0r"`
}

type keyOutput struct {
	Body auth.Key
}

// RegisterKeys adds the operations on the merchant's API keys to api (admin);
// creations and revocations are recorded in the audit trail a.
func RegisterKeys(api huma.API, keys *auth.Keys, a *audit.Log) {
	huma.Register(api, huma.Operation{
		OperationID:   "create-api-key",
		Method:        http.MethodPost,
		Path:          "/v1/api-keys",
		Summary:       "Create an API key",
		Description:   "Creates a key for this merchant with one role. The secret is in this answer only; only its hash is stored. The creation is recorded in the audit trail.",
		Tags:          []string{"API keys"},
		Security:      auth.Staff(),
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *createKeyInput) (*createKeyOutput, error) {
		p := auth.MustFromContext(ctx)
		var k auth.Key
		var secret string
		err := a.Change(ctx, p.MerchantID, p.Actor, func(tx *sqlx.Tx) (audit.Entry, error) {
			var err error
			k, secret, err = keys.WithTx(tx).Create(ctx, p.MerchantID, in.Body.Role, in.Body.Name)
			return KeyEntry(audit.KeyCreated, k), err
		})
		if err != nil {
			return nil, err
		}
		return &createKeyOutput{Body: CreatedKey{Key: k, Secret: secret}}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "list-api-keys",
		Method:      http.MethodGet,
		Path:        "/v1/api-keys",
		Summary:     "List API keys",
		Description: "Every key of this merchant, newest first, revoked ones included. Secrets are never shown again.",
		Tags:        []string{"API keys"},
		Security:    auth.Staff(),
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden},
	}, func(ctx context.Context, _ *struct{}) (*listKeysOutput, error) {
		list, err := keys.List(ctx, auth.MustFromContext(ctx).MerchantID)
		if err != nil {
			return nil, err
		}
		out := &listKeysOutput{}
		out.Body.Data = list
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "revoke-api-key",
		Method:      http.MethodDelete,
		Path:        "/v1/api-keys/{id}",
		Summary:     "Revoke an API key",
		Description: "The key stops working at once. Revoking a revoked key is harmless. The revocation is recorded in the audit trail.",
		Tags:        []string{"API keys"},
		Security:    auth.Staff(),
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound},
	}, func(ctx context.Context, in *keyIDInput) (*keyOutput, error) {
		p := auth.MustFromContext(ctx)
		var k auth.Key
		err := a.Change(ctx, p.MerchantID, p.Actor, func(tx *sqlx.Tx) (audit.Entry, error) {
			var err error
			k, err = keys.WithTx(tx).Revoke(ctx, p.MerchantID, in.ID)
			return KeyEntry(audit.KeyRevoked, k), err
		})
		if err != nil {
			return nil, err
		}
		return &keyOutput{Body: k}, nil
	})
}

// KeyEntry is the audit entry of a change to key k.
func KeyEntry(action audit.Action, k auth.Key) audit.Entry {
	name := k.Name
	if name == "" {
		name = "(no name)"
	}
	return audit.Entry{Action: action, Target: fmt.Sprintf("API key %s (%s…)", k.PublicID, k.Prefix),
		Summary: fmt.Sprintf("%s key %q", k.Role, name)}
}
