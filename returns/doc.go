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
//   - The store (PostgreSQL) and the API operations that Register adds to the route
//     table sit beside them.
//
// Everything but the store is pure: values in, values out, no clock (the time is an
// argument), no database and no globals, so the rules are tested by tables and fuzzing.
package returns
