// Package refunds owns the money going back to shoppers: the Refund of a return, how it
// reaches Stripe, how its status follows Stripe's, and how finance checks the books.
//
//   - Refund is one refund of a return (or part of one) in integer minor units and an
//     ISO 4217 currency. Its Status (status.go) mirrors Stripe's: queued before it is
//     sent, then pending, requires_action, succeeded, failed or canceled; StatusRank
//     and Advance are its transition rules.
//   - The store (store.go) is the only code that writes refunds, store_credit_entries
//     and stripe_events.
//   - Gateway (gateway.go) is what the package needs from a payment provider: Refund,
//     Get, List and ListByCharge, with errors classified as Temporary (retry with the
//     same idempotency key) or Permanent (Stripe said no; finance decides). Stripe
//     (stripe.go) implements it with stripe-go v76 on API version 2023-10-16; every
//     refund is sent with the Idempotency-Key "refund:<id>", so retries, crashes and
//     several replicas never pay twice.
//   - Service (service.go) is the returns store's Resolver (returns.Effects): it
//     issues the refund or store credit for the units a receipt, a keep-it approval or
//     an inspection accepts, inside that change's returns.Tx; its outbox job sends
//     each refund through the Gateway under the refund's row lock, and a periodic
//     sweep (pollDue) enqueues a poll of the ones that stay pending when their
//     poll_at comes.
//   - Stripe webhooks (webhook.go): ParseWebhook verifies the Stripe-Signature and
//     turns charge.refunded, charge.refund.updated and refund.* events into Results,
//     which Service.HandleEvent applies once per event, never moving a refund back.
//   - Store credit (credit.go) is an append-only ledger per shopper and currency.
//   - Sub-packages: ledger (every money movement, written by database triggers),
//     reconcile (refunds matched against Stripe's, and CSV exports) and fakestripe (a
//     stateful Stripe for tests and load runs).
package refunds
