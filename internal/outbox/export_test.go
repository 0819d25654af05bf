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
