package notify

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// APIVersion is the version of the event envelope and of the data it carries. It is
// sent in every event; a change that could break a receiver gets a new version.
const APIVersion = "2026-12-01"

// EventType names what happened. Endpoints subscribe to types; the type is in the
// envelope's type field.
type EventType string

const (
	// ReturnCreated: a return was submitted by a shopper or created by staff. Data: the return.
	ReturnCreated EventType = "return.created"
	// ReturnApproved: the return was accepted (by staff or by policy); labels follow. Data: the return.
	ReturnApproved EventType = "return.approved"
	// ReturnRejected: staff or policy declined the return (terminal). Data: the return.
	ReturnRejected EventType = "return.rejected"
	// ReturnCancelled: the shopper or staff withdrew the return before anything arrived
	// (terminal). Data: the return.
	ReturnCancelled EventType = "return.cancelled"
	// ReturnExpired: no parcel moved within the label's validity; the label is void
	// (terminal). Data: the return.
	ReturnExpired EventType = "return.expired"
	// LabelIssued: a prepaid return label was issued for a parcel of the return. Data:
	// the parcel, with its carrier and tracking number.
	LabelIssued EventType = "label.issued"
	// ParcelInTransit: a carrier reported the return parcel moving. Data: the parcel.
	ParcelInTransit EventType = "parcel.in_transit"
	// ParcelDelivered: a carrier reported the parcel delivered to the warehouse. Data: the parcel.
	ParcelDelivered EventType = "parcel.delivered"
	// ReturnReceived: the warehouse accounted for every expected item. Data: the return,
	// with received, accepted and rejected quantities per item.
	ReturnReceived EventType = "return.received"
	// RefundCreated: a refund was created and queued for Stripe. Data: the refund.
	RefundCreated EventType = "refund.created"
	// RefundSucceeded: Stripe confirmed the refund. Data: the refund.
	RefundSucceeded EventType = "refund.succeeded"
	// RefundFailed: Stripe refused or failed the refund; finance can retry it. Data: the refund.
	RefundFailed EventType = "refund.failed"
	// StoreCreditIssued: store credit was issued instead of a refund. Data: the store
	// credit entry.
	StoreCreditIssued EventType = "store_credit.issued"
	// ExchangeReserved: the replacements of an exchange are held for the shopper (paid
	// for, when they cost more). Data: the exchange.
	ExchangeReserved EventType = "exchange.reserved"
	// ExchangeReleased: the shop may ship the replacements. Data: the exchange, with its
	// items, the shipping address and the reference to quote.
	ExchangeReleased EventType = "exchange.released"
	// ExchangeShipped: the shop reported the replacements' shipment. Data: the exchange.
	ExchangeShipped EventType = "exchange.shipped"
	// ExchangeCancelled: the exchange will not happen; its units are no longer held.
	// Data: the exchange.
	ExchangeCancelled EventType = "exchange.cancelled"
	// ExchangeUnreturned: an instant exchange's replacement was released but the
	// returned items never came back within the label's validity: the shop collects
	// their value. Data: the exchange.
	ExchangeUnreturned EventType = "exchange.unreturned"
	// ReturnCompleted: the resolution is done (refund succeeded, credit issued or
	// exchange released). Data: the return.
	ReturnCompleted EventType = "return.completed"
	// FeedbackReceived: the shopper rated the return experience. Data: the feedback.
	FeedbackReceived EventType = "feedback.received"
)

// EventInfo describes an event type for the documentation.
type EventInfo struct {
	Type EventType
	// Summary says when the event is sent.
	Summary string
	// Data says what the envelope's data field holds.
	Data string
}

// Catalogue lists every event type, in lifecycle order.
var Catalogue = []EventInfo{
	{ReturnCreated, "A return was submitted by a shopper or created by staff.", "The return, as GET /v1/returns/{id} answers it."},
	{ReturnApproved, "The return was approved, by staff or automatically by the policy; labels follow.", "The return, as GET /v1/returns/{id} answers it."},
	{ReturnRejected, "Staff or the policy declined the return. Nothing more happens to it.", "The return, as GET /v1/returns/{id} answers it."},
	{ReturnCancelled, "The shopper or staff withdrew the return before anything arrived.", "The return, as GET /v1/returns/{id} answers it."},
	{ReturnExpired, "No parcel moved within the label's validity; the label is void.", "The return, as GET /v1/returns/{id} answers it."},
	{LabelIssued, "A prepaid return label was issued.", "The parcel, with its carrier and tracking number."},
	{ParcelInTransit, "A carrier reported the return parcel moving.", "The parcel, with its carrier and tracking number."},
	{ParcelDelivered, "A carrier reported the parcel delivered to the warehouse.", "The parcel, with its carrier and tracking number."},
	{ReturnReceived, "The warehouse accounted for every expected item.", "The return, with received, accepted and rejected quantities per item."},
	{RefundCreated, "A refund was created and queued for Stripe.", "The refund, as GET /v1/refunds/{id} answers it."},
	{RefundSucceeded, "Stripe confirmed the refund.", "The refund, as GET /v1/refunds/{id} answers it."},
	{RefundFailed, "Stripe refused or failed the refund; finance can retry it.", "The refund, as GET /v1/refunds/{id} answers it."},
	{StoreCreditIssued, "Store credit was issued instead of a refund.", "The store credit entry: shopper email, amount and currency."},
	{ExchangeReserved, "The replacements of an exchange are held for the shopper (and paid for, when they cost more).", "The exchange, as GET /v1/exchanges/{id} answers it."},
	{ExchangeReleased, "The shop may ship the replacements: the policy's release point was reached (receipt, approval for an instant exchange, or the first carrier scan).", "The exchange, as GET /v1/exchanges/{id} answers it: replacement items, shipping address, reference."},
	{ExchangeShipped, "The shop reported the replacements' shipment (POST /v1/exchanges/{id}/shipment).", "The exchange, with carrier and tracking number."},
	{ExchangeCancelled, "The exchange will not happen (the return was cancelled, rejected or expired before the release); its units are no longer held.", "The exchange, as GET /v1/exchanges/{id} answers it."},
	{ExchangeUnreturned, "An instant exchange's replacement went out but the returned items never arrived within the label's validity: collect their value from the shopper.", "The exchange, with unreturned_value: the returned items' value to collect."},
	{ReturnCompleted, "The resolution is done: refund succeeded, credit issued or exchange released.", "The return, as GET /v1/returns/{id} answers it."},
	{FeedbackReceived, "The shopper rated the return experience.", "The feedback: rating and comment, with the return's ID."},
}

// Known reports whether t is in the Catalogue.
func (t EventType) Known() bool {
	return slices.ContainsFunc(Catalogue, func(i EventInfo) bool { return i.Type == t })
}

// TransformSchema documents the event types as the schema's enum, so that the API
// refuses unknown ones, naming the field.
func (EventType) TransformSchema(_ huma.Registry, s *huma.Schema) *huma.Schema {
	s.Enum = nil
	for _, i := range Catalogue {
		s.Enum = append(s.Enum, string(i.Type))
	}
	return s
}

// WebhookEvent is the body of every webhook request.
type WebhookEvent struct {
	ID         string          `json:"id" doc:"The event's ID, also sent as the webhook-id header. It is the same on every attempt and redelivery: use it to ignore duplicates." example:"evt_2k7q9m4x1c8v5b3n6z0p4r7t2w"`
	Type       EventType       `json:"type" doc:"What happened."`
	APIVersion string          `json:"api_version" doc:"Version of the envelope and of its data." example:"2026-12-01"`
	CreatedAt  time.Time       `json:"created_at" doc:"When it happened."`
	Data       json.RawMessage `json:"data" doc:"The object the event is about."`
}
