package outbox

// Idle reports whether no worker of w is claiming and no token waits for one.
func (w *Worker) Idle() bool { return w.busy.Load() == 0 && len(w.wake) == 0 }
