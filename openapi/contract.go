package openapi

import (
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/roundtriphq/roundtrip/internal/idempotency"
	"github.com/roundtriphq/roundtrip/internal/problem"
)

// The contract a generated client sees: every answer an operation can give is
// declared where the mechanism that gives it is installed (the idempotency and rate
// limit answers of every operation here, not in each domain's registration), the
// tags are described, and the schemas carry the names a client author would write.

// tagDescriptions describes every tag the operations use; a tag missing here fails
// TestEveryTagIsDescribed.
var tagDescriptions = map[string]string{
	"Analytics":         "Why shoppers return: rates by reason, category and SKU, and their feedback.",
	"API keys":          "Keys for the shop's systems and staff, each with one role.",
	"Audit":             "Who changed what in the shop's settings, keys and money decisions.",
	"Emails":            "The emails sent to shoppers, their delivery and resending.",
	"Exchanges":         "Replacements instead of a refund: the catalogue, stock held, differences paid or refunded.",
	"Finance":           "Returns that need finance's attention.",
	"Labels":            "Prepaid return labels, parcels and the carrier's settings and events.",
	"Ledger":            "Every movement of money, append-only.",
	"Merchant":          "The shop's name, branding, addresses and settings.",
	"Orders":            "Orders the shop pushes in, which returns are started from.",
	"Outgoing webhooks": "Signed events to the shop's systems (Standard Webhooks), their endpoints and deliveries.",
	"Policy":            "The shop's return policy, versioned.",
	"Portal":            "How a shopper signs in to the returns portal.",
	"Reconciliation":    "Refunds matched against Stripe, line by line.",
	"Refunds":           "Money back to the card through Stripe, exactly once, and what finance does with failures.",
	"Reports":           "Exports for spreadsheets.",
	"Returns":           "A return's life: quote, create, approve or reject, cancel, its timeline and feedback.",
	"Store credit":      "Credit issued instead of a refund, spent at the shop's checkout.",
	"Warehouse":         "Parcels scanned and received at the warehouse, and their inspection.",
	"Webhooks":          "Events Roundtrip receives from Stripe and the carrier.",
}

// schemaNames renames the schemas whose Go names mean nothing to a client (the
// request and answer bodies Huma names after their Go input and output types) to
// the names a client author would write. Keys are Huma's default names.
var schemaNames = map[string]string{
	"AcknowledgeInputBody":            "ReconciliationLineAcknowledgement",
	"CarrierEventBody":                "CarrierEvent",
	"CasesOutputBody":                 "ReturnCaseList",
	"CreateInputBody":                 "ReturnCreate",
	"CreateItemBody":                  "ReturnCreateItem",
	"CreateKeyInputBody":              "APIKeyCreate",
	"CreateWebhookEndpointInputBody":  "WebhookEndpointCreate",
	"EventsOutputBody":                "ReturnEventList",
	"FeedbackInputBody":               "FeedbackAnswer",
	"InspectInputBody":                "Inspection",
	"LedgerListOutputBody":            "LedgerEntryList",
	"ListAuditOutputBody":             "AuditEntryList",
	"ListKeysOutputBody":              "APIKeyList",
	"ListOutputBody":                  "ReturnList",
	"ListWebhookDeliveriesOutputBody": "WebhookDeliveryList",
	"ListWebhookEndpointsOutputBody":  "WebhookEndpointList",
	"NoteInputBody":                   "StaffNote",
	"QuoteBody":                       "QuoteRequest",
	"ReceiptsOutputBody":              "ReceiptList",
	"ReconciliationCreateInputBody":   "ReconciliationCreate",
	"ReconciliationListOutputBody":    "ReconciliationList",
	"RedeemInputBody":                 "StoreCreditRedemptionCreate",
	"RefundListOutputBody":            "RefundList",
	"RejectInputBody":                 "ReturnRejection",
	"ReturnEmailsOutputBody":          "EmailList",
	"RevokeLinksOutputBody":           "StatusLinksRevoked",
	"RotateWebhookSecretInputBody":    "WebhookSecretRotation",
	"Scan":                            "ScanResult",
	"ScanInputBody":                   "Scan",
	"Session":                         "PortalSession",
	"SessionInputBody":                "PortalSessionCreate",
	"SettleInputBody":                 "RefundSettlement",
	"ShipInputBody":                   "ExchangeShipment",
	"UpdateInputBody":                 "MerchantUpdate",
	"UpdateWebhookEndpointInputBody":  "WebhookEndpointUpdate",
	"WebhookOutputBody":               "StripeWebhookResult",
}

// schemaName is the API's schema namer: Huma's, then schemaNames.
func schemaName(t reflect.Type, hint string) string {
	name := huma.DefaultSchemaNamer(t, hint)
	if n, ok := schemaNames[name]; ok {
		return n
	}
	return name
}

// retryAfter documents the Retry-After header of an answer.
var retryAfter = &huma.Param{
	Description: "Seconds to wait before trying again.",
	Schema:      &huma.Schema{Type: huma.TypeInteger, Minimum: ptr(0.0), Examples: []any{2}},
}

// replayed documents the Idempotent-Replayed header of an idempotent operation's answers.
var replayed = &huma.Param{
	Description: "true when this answer is the stored answer of an earlier request with the same Idempotency-Key: " +
		"the operation did not run again.",
	Schema: &huma.Schema{Type: huma.TypeString, Enum: []any{"true"}},
}

func ptr[T any](v T) *T { return &v }

// declareAnswers is a huma.AddOpFunc that declares the answers the shared
// middleware gives: an operation that takes an Idempotency-Key answers 409
// idempotency_key_in_use (its key's first request still runs) and 503 (the key could
// not be checked), both with Retry-After, and its other answers may be replays
// (Idempotent-Replayed); every 429 and 503 carries Retry-After.
func declareAnswers(oapi *huma.OpenAPI, op *huma.Operation) {
	if op.Responses == nil {
		op.Responses = map[string]*huma.Response{}
	}
	problemSchema := oapi.Components.Schemas.Schema(reflect.TypeFor[problem.Problem](), true, "")
	errorAnswer := func(status int, description string) *huma.Response {
		code := strconv.Itoa(status)
		if r, ok := op.Responses[code]; ok {
			if description != "" && !strings.Contains(r.Description, description) {
				r.Description = strings.TrimSpace(r.Description + " " + description)
			}
			return r
		}
		r := &huma.Response{
			Description: strings.TrimSpace(http.StatusText(status) + ". " + description),
			Content:     map[string]*huma.MediaType{"application/problem+json": {Schema: problemSchema}},
		}
		op.Responses[code] = r
		return r
	}
	idempotent := slices.ContainsFunc(op.Parameters, func(p *huma.Param) bool {
		return p.In == "header" && http.CanonicalHeaderKey(p.Name) == idempotency.HeaderName
	})
	if idempotent {
		for code, r := range op.Responses {
			if strings.HasPrefix(code, "2") {
				setHeader(r, "Idempotent-Replayed", replayed)
			}
		}
		errorAnswer(http.StatusConflict, "idempotency_key_in_use: a request with this Idempotency-Key is still running; "+
			"retry with the same key after Retry-After.")
		errorAnswer(http.StatusServiceUnavailable, "")
	}
	for _, code := range []string{"429", "503"} {
		if r, ok := op.Responses[code]; ok {
			setHeader(r, "Retry-After", retryAfter)
		}
	}
	if r, ok := op.Responses["409"]; ok && idempotent {
		setHeader(r, "Retry-After", retryAfter)
	}
}

func setHeader(r *huma.Response, name string, p *huma.Param) {
	if r.Headers == nil {
		r.Headers = map[string]*huma.Param{}
	}
	if _, ok := r.Headers[name]; !ok {
		r.Headers[name] = p
	}
}

// describeDocument fills in what the document says about itself: where the API is
// served, whom to contact, and a description of every tag.
func describeDocument(oapi *huma.OpenAPI, baseURL string) {
	if baseURL == "" {
		baseURL = "http://127.0.0.1:8080"
	}
	baseURL = strings.TrimRight(baseURL, "/")
	oapi.Servers = []*huma.Server{{URL: baseURL, Description: "This Roundtrip server."}}
	oapi.Info.Contact = &huma.Contact{Name: "Roundtrip API reference", URL: baseURL + "/docs"}
	names := make([]string, 0, len(tagDescriptions))
	for name := range tagDescriptions {
		names = append(names, name)
	}
	slices.Sort(names)
	oapi.Tags = oapi.Tags[:0]
	for _, name := range names {
		oapi.Tags = append(oapi.Tags, &huma.Tag{Name: name, Description: tagDescriptions[name]})
	}
}
