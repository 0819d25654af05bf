package refunds

// IssuedSQL is issuedFor's statement, for the test of its plan.
const IssuedSQL = issuedSQL
