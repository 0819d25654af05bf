package outbox

// Idle reports whether no worker of w is claiming and no token waits for one.
func (w *Worker) Idle() bool { return w.started.Load() && w.outstanding.Load() == 0 }

// ClaimNow hands w a token to claim one batch of kind, as a notification does.
func (w *Worker) ClaimNow(kind string) { w.nudge(token{kind: kind}) }

// ID is the name w gives itself in its calls for help.
func (w *Worker) ID() string { return w.id }

// Claims is how many claim statements w ran.
func (w *Worker) Claims() int64 { return w.claims.Load() }

// Queued reports whether a token of kind waits for one of w's workers.
func (w *Worker) Queued(kind string) bool { return w.isQueued(kind) }

// Renumber is renumber.
var Renumber = renumber

// HeadSQL and NextDueSQL are the reads across kinds.
var (
	HeadSQL    = headSQL
	NextDueSQL = nextDueSQL
)
