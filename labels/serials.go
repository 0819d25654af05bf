package labels

import (
	"context"
	"fmt"
	"sync"

	"github.com/jmoiron/sqlx"
)

// serialBlock is how many tracking serials a process draws from the database at once.
const serialBlock = 32

// serials hands out the tracking serials of own labels (S10 numbers), drawn from the
// sequence tracking_serial a block at a time: a label booked costs no statement of
// its own for its serial. Each process has its blocks, so serials are unique but not
// in booking order across replicas, and a process that stops leaves the rest of its
// block unused, as a rolled-back booking always did (a sequence's draw is not undone).
type serials struct {
	mu   sync.Mutex
	left []int64
}

// take returns the next serial. When none is left it draws a block through q, the
// caller's transaction: its connection is the one in hand (a pool whose connections
// are all in such transactions would have none to lend), and the draw stands even if
// the transaction rolls back.
func (s *serials) take(ctx context.Context, q sqlx.QueryerContext) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.left) == 0 {
		var block []int64
		if err := sqlx.SelectContext(ctx, q, &block, `SELECT nextval('tracking_serial') FROM generate_series(1, $1)`, serialBlock); err != nil {
			return 0, fmt.Errorf("labels: tracking serials: %w", err)
		}
		if len(block) == 0 {
			return 0, fmt.Errorf("labels: tracking serials: none drawn")
		}
		s.left = block
	}
	n := s.left[0]
	s.left = s.left[1:]
	return n, nil
}
