package outbox

// Idle reports whether no worker of w is claiming and no token waits for one.
func (w *Worker) Idle() bool { return w.busy.Load() == 0 && len(w.wake) == 0 }

// TakeOverNow hands w a takeover token for kind at once, as the end of a takeover
// wait does.
func (w *Worker) TakeOverNow(kind string) { w.nudge(token{kind: kind, takeover: true}) }

// TakeoverWaiting reports whether a takeover wait for kind is running.
func (w *Worker) TakeoverWaiting(kind string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.gathering["#"+kind]
}

// ClaimNow hands w a token to claim one batch of kind, as a notification does.
func (w *Worker) ClaimNow(kind string) { w.nudge(token{kind: kind}) }

// Claims is how many claim statements w ran.
func (w *Worker) Claims() int64 { return w.claims.Load() }
