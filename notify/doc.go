// Package notify sends the shop's systems signed webhooks about its returns, refunds
// and parcels.
//
//   - Events (event.go): EventType names what happened (return.approved,
//     refund.succeeded, …); Catalogue lists every type with what its data holds.
//     Service.Publish records an event in the caller's transaction, with one
//     delivery per subscribed endpoint and an outbox job for each, so an event is
//     sent if and only if the change that caused it commits.
//   - Endpoints (endpoint.go): where a merchant wants events, with an event-type
//     filter and a signing secret (whsec_…) shown only at creation and rotation. URLs
//     must be https and must not point into private networks (safety.go); the same
//     rule is checked again on every connection, against the address actually
//     dialled, so a host name that later resolves inward is refused too.
//   - Deliveries (delivery.go, deliver.go): an outbox job POSTs the event, signed per
//     the Standard Webhooks specification (sign.go), and logs every attempt: a failed
//     one as a row of the attempts' log, one that succeeded (most) on the delivery's
//     own row, a row fewer an event; a manual retry moves it into the log. A failed
//     attempt is retried with exponential backoff and jitter for three days
//     (Backoff, RetryWindow); then the delivery is parked. An endpoint whose attempts
//     have all failed for DisableAfter is disabled, with the reason recorded.
//   - The API (api.go): admin-only operations for endpoints and deliveries, and the
//     webhooks section of the OpenAPI document, one entry per event type.
//
// Delivery is at least once: a replica that dies after the receiver answered but
// before its transaction commits sends the event again. Receivers deduplicate by the
// webhook-id header, which is the event's ID on every attempt. Events of one endpoint
// are not ordered; each carries its created_at.
package notify
