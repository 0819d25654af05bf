// Package returns owns the returns domain of Roundtrip: what a shop sold, what its
// policy lets shoppers send back, what they get for it, and where each return stands.
//
//   - Order (order.go) is an order exactly as the shop sent it with
//     PUT /v1/orders/{order_number}: customer, lines with their own discount and tax,
//     order-level discount, shipping and the Stripe payment. Returns read it and never
//     change it; Order.Validate names every wrong field.
//   - Reason (reason.go) is the fixed catalogue of return reasons; damaged, wrong_item
//     and not_as_described are the merchant's fault.
//   - Policy (policy.go) is a merchant's return policy (GET/PUT /v1/policy): the return
//     window, rules by category, SKU or tag, return shipping, the resolutions offered,
//     approval, the refund trigger, keep-it, label validity and the serial-returner
//     rule. DefaultPolicy is the policy of a merchant who never set one.
//   - Quote (quote.go) prices a return before it exists (POST /v1/returns/quote), line
//     by line, in integer minor units, so that all the returns of an order together
//     refund exactly the order and never more than its payment. The quote is stored
//     with the return, and QuoteResult.ForAccepted prices the part of it that the
//     warehouse accepts.
//   - Return, State and its transition table (state.go): Next applies an Event to a
//     State or answers a *TransitionError; rma.go makes and checks RMA numbers.
//   - The store (PostgreSQL): store.go (returns and their lists), store_orders.go,
//     store_policies.go, timeline.go (the append-only timeline of every change). A
//     change of a return runs in a Tx (tx.go) that holds the return's row lock; other
//     domains act on the return only through it. A change's writes ride on the
//     statements it makes anyway: a transition's write and notice wait for the next
//     statement of the change (Tx.Defer, Tx.Carried; two transitions still waiting are
//     one write), and another domain's read can ride on the lock (LockRead).
//   - What a change sets off (effects.go): Effects declares the Labels and Resolver
//     the store calls inside the change's transaction. Approval issues the label (or,
//     for keep-it, resolves at once); cancel, reject and expiry void the labels; a
//     receipt or an inspection resolves the accepted units into a refund or store
//     credit. Reading effects.go lists everything a change causes.
//   - Find (lookup.go) is the one lookup of a return by ID or RMA for a caller, with
//     the shopper's ownership check; every package's operations use it.
//   - The API operations, one file per resource: api_orders.go, api_policy.go,
//     api_portal.go, api_returns.go, api_events.go. Handlers return the domain's
//     errors as they are; openapi maps them to problems in one place.
//   - Sub-packages: receiving (scans and receipts at the warehouse) and analytics.
//
// Everything but the store is pure: values in, values out, no clock (the time is an
// argument), no database and no globals, so the rules are tested by tables and fuzzing.
package returns
