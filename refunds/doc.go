// Package refunds owns the money going back to shoppers: the Refund of a return, how it
// reaches Stripe, how its status follows Stripe's, and how finance checks the books.
//
//   - Refund is one refund of a return (or part of one) in integer minor units and an
//     ISO 4217 currency. Its status mirrors Stripe's: queued before it is sent, then
//     pending, requires_action, succeeded, failed or canceled (StatusRank, Advance).
//   - Gateway (gateway.go) is what the package needs from a payment provider: Refund,
//     Get, List and ListByCharge, with errors classified as Temporary (retry with the
//     same idempotency key) or Permanent (Stripe said no; finance decides). Stripe
//     (stripe.go) implements it with stripe-go v76 on API version 2023-10-16; every
//     refund is sent with the Idempotency-Key "refund:<id>", so retries, crashes and
//     several replicas never pay twice.
//   - The refund worker takes refunds from the transactional outbox and sends them
//     through the Gateway.
//   - Stripe webhooks (webhook.go): ParseWebhook verifies the Stripe-Signature and
//     turns charge.refunded, charge.refund.updated and refund.* events into Results;
//     a poller covers missed webhooks.
//   - The ledger lists every refund for finance, with failed refunds to retry.
//   - Store credit is the resolution that pays no money out: a balance for the shopper.
//   - Reconciliation compares the ledger with Stripe's refunds (Gateway.List) and lists
//     every mismatch.
//
// The Gateway, its Stripe implementation and the webhook parser are pure of the
// database; the store and the API operations sit beside them.
package refunds
