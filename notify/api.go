package notify

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/audit"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/cursor"
	"github.com/roundtriphq/roundtrip/internal/idempotency"
	"github.com/roundtriphq/roundtrip/internal/problem"
	"github.com/roundtriphq/roundtrip/internal/validation"
)

// tag groups the operations in the documentation.
const tag = "Outgoing webhooks"

// Cursor prefixes of the two lists.
const (
	endpointCursor = "w"
	deliveryCursor = "d"
)

// CreatedWebhookEndpoint is a new endpoint with its signing secret, which is shown only now.
type CreatedWebhookEndpoint struct {
	WebhookEndpoint
	Secret string `json:"secret" doc:"The signing secret. It is shown only now (and at rotation): store it safely. Verify requests with it using any Standard Webhooks library." example:"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwq3CxkHa9bNo="`
}

type createWebhookEndpointInput struct {
	idempotency.Header
	Body struct {
		URL           string      `json:"url" minLength:"1" maxLength:"2048" doc:"Where events are POSTed: an https URL on the public internet." example:"https://shop.example.com/webhooks/roundtrip"`
		Description   string      `json:"description,omitempty" maxLength:"500" doc:"What the endpoint is for." example:"Order system"`
		EnabledEvents []EventType `json:"enabled_events,omitempty" maxItems:"50" doc:"The event types to send; empty or absent means every type, including types added later."`
		Enabled       *bool       `json:"enabled,omitempty" doc:"Whether events are sent to it (default true)."`
	}
}

type createWebhookEndpointOutput struct {
	Body CreatedWebhookEndpoint
}

type webhookEndpointIDInput struct {
	ID string `path:"id" maxLength:"64" example:"we_4f7k2m9q3x8c1v6b5n0z7p2r4t" doc:"The endpoint's ID."`
}

type webhookEndpointOutput struct {
	Body WebhookEndpoint
}

type listWebhookEndpointsInput struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"500" default:"50"`
	Cursor string `query:"cursor" maxLength:"40" doc:"next_cursor of the previous page."`
}

type listWebhookEndpointsOutput struct {
	Body struct {
		Data       []WebhookEndpoint `json:"data"`
		NextCursor string            `json:"next_cursor,omitempty"`
	}
}

type updateWebhookEndpointInput struct {
	ID   string `path:"id" maxLength:"64" example:"we_4f7k2m9q3x8c1v6b5n0z7p2r4t" doc:"The endpoint's ID."`
	Body struct {
		URL           *string      `json:"url,omitempty" minLength:"1" maxLength:"2048" doc:"Where events are POSTed: an https URL on the public internet." example:"https://shop.example.com/webhooks/roundtrip"`
		Description   *string      `json:"description,omitempty" maxLength:"500" example:"Order system"`
		EnabledEvents *[]EventType `json:"enabled_events,omitempty" maxItems:"50" doc:"The event types to send; [] means every type."`
		Enabled       *bool        `json:"enabled,omitempty" doc:"false stops deliveries (queued ones are parked); true starts them again and clears disabled_reason."`
	}
}

type rotateWebhookSecretInput struct {
	idempotency.Header
	ID   string `path:"id" maxLength:"64" example:"we_4f7k2m9q3x8c1v6b5n0z7p2r4t" doc:"The endpoint's ID."`
	Body *struct {
		PreviousSecretValidFor *int `json:"previous_secret_valid_for,omitempty" minimum:"0" maximum:"604800" doc:"Seconds during which requests are also signed with the old secret, so that receivers can switch without rejecting events (default 86400; 0: stop at once)." example:"86400"`
	} `required:"false"`
}

type rotateWebhookSecretOutput struct {
	Body CreatedWebhookEndpoint
}

type listWebhookDeliveriesInput struct {
	EndpointID string           `query:"endpoint_id" maxLength:"64" doc:"Only deliveries to this endpoint." example:"we_4f7k2m9q3x8c1v6b5n0z7p2r4t"`
	EventID    string           `query:"event_id" maxLength:"64" doc:"Only deliveries of this event." example:"evt_2k7q9m4x1c8v5b3n6z0p4r7t2w"`
	EventType  EventType        `query:"event_type" doc:"Only deliveries of events of this type."`
	Status     []DeliveryStatus `query:"status" explode:"false" enum:"pending,succeeded,failed,parked" doc:"Only deliveries in these statuses (comma-separated)." example:"parked"`
	Limit      int              `query:"limit" minimum:"1" maximum:"500" default:"50"`
	Cursor     string           `query:"cursor" maxLength:"40" doc:"next_cursor of the previous page."`
}

type listWebhookDeliveriesOutput struct {
	Body struct {
		Data       []WebhookDelivery `json:"data"`
		NextCursor string            `json:"next_cursor,omitempty"`
	}
}

type webhookDeliveryIDInput struct {
	ID string `path:"id" maxLength:"64" example:"wd_8c1v6b5n0z7p2r4t4f7k2m9q3x" doc:"The delivery's ID."`
}

type retryWebhookDeliveryInput struct {
	idempotency.Header
	ID string `path:"id" maxLength:"64" example:"wd_8c1v6b5n0z7p2r4t4f7k2m9q3x" doc:"The delivery's ID."`
}

type webhookDeliveryOutput struct {
	Body WebhookDelivery
}

type webhookDeliveryDetailOutput struct {
	Body WebhookDeliveryDetail
}

// Register adds the webhook endpoint and delivery operations to api, and documents
// every event in the OpenAPI document's webhooks section. Changes to endpoints and
// deliveries sent again by hand are recorded in the audit trail a.
func Register(api huma.API, s *Service, a *audit.Log) {
	admin := auth.Staff()
	read := []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound}
	write := append(read, http.StatusUnprocessableEntity)

	huma.Register(api, huma.Operation{
		OperationID:   "create-webhook-endpoint",
		Method:        http.MethodPost,
		Path:          "/v1/webhook-endpoints",
		Summary:       "Create a webhook endpoint",
		Description:   "Events of the chosen types are POSTed to the URL, signed per the Standard Webhooks specification with the secret in this answer, which is shown only now. The URL must be https and must not resolve to a private, loopback or link-local address.",
		Tags:          []string{tag},
		Security:      admin,
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *createWebhookEndpointInput) (*createWebhookEndpointOutput, error) {
		enabled := in.Body.Enabled == nil || *in.Body.Enabled
		p := auth.MustFromContext(ctx)
		var e WebhookEndpoint
		var secret string
		err := a.Change(ctx, p.MerchantID, p.Actor, func(tx *sqlx.Tx) (audit.Entry, error) {
			var err error
			e, secret, err = s.WithTx(tx).CreateEndpoint(ctx, p.MerchantID, EndpointInput{
				URL: strings.TrimSpace(in.Body.URL), Description: in.Body.Description,
				EnabledEvents: in.Body.EnabledEvents, Enabled: enabled,
			}, idempotency.FromContext(ctx))
			return EndpointEntry(audit.EndpointCreated, e, e.Describe()), err
		})
		if err != nil {
			return nil, err
		}
		return &createWebhookEndpointOutput{Body: CreatedWebhookEndpoint{WebhookEndpoint: e, Secret: secret}}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "list-webhook-endpoints",
		Method:      http.MethodGet,
		Path:        "/v1/webhook-endpoints",
		Summary:     "List webhook endpoints",
		Description: "Newest first, with cursor pagination. Secrets are never shown again.",
		Tags:        []string{tag},
		Security:    admin,
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *listWebhookEndpointsInput) (*listWebhookEndpointsOutput, error) {
		var v validation.Error
		after := cursor.Decode(endpointCursor, in.Cursor, &v)
		if v.Err() != nil {
			return nil, problem.Invalid("query.", &v)
		}
		list, more, err := s.Endpoints(ctx, auth.MustFromContext(ctx).MerchantID, after, in.Limit)
		if err != nil {
			return nil, err
		}
		out := &listWebhookEndpointsOutput{}
		out.Body.Data = list
		if more {
			out.Body.NextCursor = cursor.Encode(endpointCursor, list[len(list)-1].ID)
		}
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "get-webhook-endpoint",
		Method:      http.MethodGet,
		Path:        "/v1/webhook-endpoints/{id}",
		Summary:     "Get a webhook endpoint",
		Description: "The secret is not shown: rotate it to get a new one.",
		Tags:        []string{tag},
		Security:    admin,
		Errors:      read,
	}, func(ctx context.Context, in *webhookEndpointIDInput) (*webhookEndpointOutput, error) {
		e, err := s.Endpoint(ctx, auth.MustFromContext(ctx).MerchantID, in.ID)
		if err != nil {
			return nil, err
		}
		return &webhookEndpointOutput{Body: e}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "update-webhook-endpoint",
		Method:      http.MethodPatch,
		Path:        "/v1/webhook-endpoints/{id}",
		Summary:     "Change a webhook endpoint",
		Description: "Changes the fields present in the body. Enabling an endpoint that was disabled (by hand or after three days of failures) clears its disabled_reason; deliveries parked meanwhile stay parked until retried.",
		Tags:        []string{tag},
		Security:    admin,
		Errors:      write,
	}, func(ctx context.Context, in *updateWebhookEndpointInput) (*webhookEndpointOutput, error) {
		p := auth.MustFromContext(ctx)
		patch := EndpointPatch{Description: in.Body.Description, EnabledEvents: in.Body.EnabledEvents, Enabled: in.Body.Enabled}
		if in.Body.URL != nil {
			u := strings.TrimSpace(*in.Body.URL)
			patch.URL = &u
		}
		var e WebhookEndpoint
		err := a.Change(ctx, p.MerchantID, p.Actor, func(tx *sqlx.Tx) (audit.Entry, error) {
			before, err := s.WithTx(tx).Endpoint(ctx, p.MerchantID, in.ID)
			if err != nil {
				return audit.Entry{}, err
			}
			e, err = s.WithTx(tx).UpdateEndpoint(ctx, p.MerchantID, in.ID, patch, p.Actor)
			return EndpointEntry(audit.EndpointUpdated, e, audit.Lines(EndpointChanges(before, e))), err
		})
		if err != nil {
			return nil, err
		}
		return &webhookEndpointOutput{Body: e}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID:   "delete-webhook-endpoint",
		Method:        http.MethodDelete,
		Path:          "/v1/webhook-endpoints/{id}",
		Summary:       "Delete a webhook endpoint",
		Description:   "Nothing more is sent to it; its deliveries and their attempts are deleted with it.",
		Tags:          []string{tag},
		Security:      admin,
		DefaultStatus: http.StatusNoContent,
		Errors:        read,
	}, func(ctx context.Context, in *webhookEndpointIDInput) (*struct{}, error) {
		p := auth.MustFromContext(ctx)
		err := a.Change(ctx, p.MerchantID, p.Actor, func(tx *sqlx.Tx) (audit.Entry, error) {
			e, err := s.WithTx(tx).Endpoint(ctx, p.MerchantID, in.ID)
			if err != nil {
				return audit.Entry{}, err
			}
			return EndpointEntry(audit.EndpointDeleted, e, e.Describe()), s.WithTx(tx).DeleteEndpoint(ctx, p.MerchantID, in.ID)
		})
		if err != nil {
			return nil, err
		}
		return nil, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "rotate-webhook-endpoint-secret",
		Method:      http.MethodPost,
		Path:        "/v1/webhook-endpoints/{id}/rotate-secret",
		Summary:     "Rotate a webhook endpoint's signing secret",
		Description: "Makes a new secret, shown only in this answer. For previous_secret_valid_for seconds (default a day) every request carries a second signature made with the old secret, so a receiver verifying with either keeps accepting events while it switches.",
		Tags:        []string{tag},
		Security:    admin,
		Errors:      write,
	}, func(ctx context.Context, in *rotateWebhookSecretInput) (*rotateWebhookSecretOutput, error) {
		grace := DefaultRotationGrace
		if in.Body != nil && in.Body.PreviousSecretValidFor != nil {
			grace = time.Duration(*in.Body.PreviousSecretValidFor) * time.Second
		}
		p := auth.MustFromContext(ctx)
		var e WebhookEndpoint
		var secret string
		err := a.Change(ctx, p.MerchantID, p.Actor, func(tx *sqlx.Tx) (audit.Entry, error) {
			var err error
			e, secret, err = s.WithTx(tx).RotateSecret(ctx, p.MerchantID, in.ID, grace)
			return EndpointEntry(audit.EndpointSecretRotated, e, RotationSummary(e)), err
		})
		if err != nil {
			return nil, err
		}
		return &rotateWebhookSecretOutput{Body: CreatedWebhookEndpoint{WebhookEndpoint: e, Secret: secret}}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "list-webhook-deliveries",
		Method:      http.MethodGet,
		Path:        "/v1/webhook-deliveries",
		Summary:     "List webhook deliveries",
		Description: "One delivery per event and endpoint, newest first, with cursor pagination.",
		Tags:        []string{tag},
		Security:    admin,
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *listWebhookDeliveriesInput) (*listWebhookDeliveriesOutput, error) {
		var v validation.Error
		f := DeliveryFilter{EndpointID: in.EndpointID, EventID: in.EventID, EventType: in.EventType,
			Statuses: in.Status, Limit: in.Limit}
		f.After = cursor.Decode(deliveryCursor, in.Cursor, &v)
		if v.Err() != nil {
			return nil, problem.Invalid("query.", &v)
		}
		list, more, err := s.Deliveries(ctx, auth.MustFromContext(ctx).MerchantID, f)
		if err != nil {
			return nil, err
		}
		out := &listWebhookDeliveriesOutput{}
		out.Body.Data = list
		if more {
			out.Body.NextCursor = cursor.Encode(deliveryCursor, list[len(list)-1].ID)
		}
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "get-webhook-delivery",
		Method:      http.MethodGet,
		Path:        "/v1/webhook-deliveries/{id}",
		Summary:     "Get a webhook delivery with its attempts",
		Description: "The event as sent and every attempt, oldest first: when, the HTTP status, the latency, the start of the answer and the error.",
		Tags:        []string{tag},
		Security:    admin,
		Errors:      read,
	}, func(ctx context.Context, in *webhookDeliveryIDInput) (*webhookDeliveryDetailOutput, error) {
		d, err := s.Delivery(ctx, auth.MustFromContext(ctx).MerchantID, in.ID)
		if err != nil {
			return nil, err
		}
		return &webhookDeliveryDetailOutput{Body: d}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID:   "retry-webhook-delivery",
		Method:        http.MethodPost,
		Path:          "/v1/webhook-deliveries/{id}/retry",
		Summary:       "Send a webhook delivery again now",
		Description:   "Queues an attempt now, whatever the delivery's status: parked and failed deliveries are tried again, succeeded ones sent again (with the same webhook-id). A disabled endpoint answers 409: enable it first.",
		Tags:          []string{tag},
		Security:      admin,
		DefaultStatus: http.StatusAccepted,
		Errors:        []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *retryWebhookDeliveryInput) (*webhookDeliveryOutput, error) {
		p := auth.MustFromContext(ctx)
		var d WebhookDelivery
		err := a.Change(ctx, p.MerchantID, p.Actor, func(tx *sqlx.Tx) (audit.Entry, error) {
			var err error
			d, err = s.WithTx(tx).RetryDelivery(ctx, p.MerchantID, in.ID)
			return DeliveryEntry(d), err
		})
		if err != nil {
			return nil, err
		}
		return &webhookDeliveryOutput{Body: d}, nil
	})

	documentWebhooks(api.OpenAPI())
}

// signingDoc explains the headers of every webhook request.
const signingDoc = "Sent to every enabled endpoint subscribed to this type, as a POST with `Content-Type: application/json` " +
	"and `User-Agent: " + UserAgent + "`, signed per the Standard Webhooks specification: `webhook-id` is the event's ID " +
	"(the same on every attempt, to ignore duplicates), `webhook-timestamp` the time of the attempt in Unix seconds, and " +
	"`webhook-signature` is `v1,` and the base64 HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<body>` keyed with the " +
	"base64-decoded part of the endpoint's secret after `whsec_` (two signatures, space-separated, for a while after a " +
	"rotation). Any Standard Webhooks library verifies it.\n\nAny 2xx answer within 10 seconds acknowledges the event. " +
	"Anything else, a redirect included, is retried with exponential backoff for three days."

// documentWebhooks adds one entry per event type to the webhooks section.
func documentWebhooks(o *huma.OpenAPI) {
	if o.Webhooks == nil {
		o.Webhooks = map[string]*huma.PathItem{}
	}
	header := func(name, doc, example string) *huma.Param {
		return &huma.Param{Name: name, In: "header", Required: true, Description: doc,
			Schema: &huma.Schema{Type: huma.TypeString}, Example: example}
	}
	for _, info := range Catalogue {
		t := string(info.Type)
		o.Webhooks[t] = &huma.PathItem{Post: &huma.Operation{
			OperationID: strings.NewReplacer(".", "-", "_", "-").Replace(t) + "-event",
			Summary:     t,
			Description: info.Summary + "\n\n" + signingDoc,
			Tags:        []string{tag},
			Parameters: []*huma.Param{
				header(HeaderID, "The event's ID; the same on every attempt.", "evt_2k7q9m4x1c8v5b3n6z0p4r7t2w"),
				header(HeaderTimestamp, "When the attempt was sent, in Unix seconds.", "1796112000"),
				header(HeaderSignature, "v1,<base64 HMAC-SHA256 of id.timestamp.body>, space-separated when there are several.", "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="),
			},
			RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
				"application/json": {Schema: &huma.Schema{
					Type:     huma.TypeObject,
					Required: []string{"id", "type", "api_version", "created_at", "data"},
					Properties: map[string]*huma.Schema{
						"id":          {Type: huma.TypeString, Pattern: "^evt_[a-z0-9]+$", Description: "The event's ID, also in webhook-id.", Examples: []any{"evt_2k7q9m4x1c8v5b3n6z0p4r7t2w"}},
						"type":        {Type: huma.TypeString, Enum: []any{t}},
						"api_version": {Type: huma.TypeString, Enum: []any{APIVersion}, Description: "Version of the envelope and of its data."},
						"created_at":  {Type: huma.TypeString, Format: "date-time", Description: "When it happened."},
						"data":        {Type: huma.TypeObject, Description: info.Data},
					},
				}},
			}},
			Responses: map[string]*huma.Response{
				"200": {Description: "Acknowledged: any 2xx status does."},
			},
		}}
	}
}

// DescribeData documents the data field of each event type's webhook as the schema
// of the Go value the event carries (returns.Return, labels.Parcel, …), registered
// in the document's components. Call it once every operation is registered; notify
// cannot name those types itself, since their packages publish through it.
func DescribeData(api huma.API, data map[EventType]any) {
	o := api.OpenAPI()
	for _, info := range Catalogue {
		v, ok := data[info.Type]
		item := o.Webhooks[string(info.Type)]
		if !ok || item == nil || item.Post == nil || item.Post.RequestBody == nil {
			continue
		}
		body := item.Post.RequestBody.Content["application/json"].Schema
		ref := o.Components.Schemas.Schema(reflect.TypeOf(v), true, "")
		body.Properties["data"] = &huma.Schema{Description: info.Data, AllOf: []*huma.Schema{ref}}
	}
}
