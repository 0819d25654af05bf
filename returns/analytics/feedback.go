package analytics

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/period"
	"github.com/roundtriphq/roundtrip/returns"
)

// CommentsPerReason bounds the comments listed under one reason (the newest).
const CommentsPerReason = 20

// FeedbackStats summarises the shoppers' answers to "how easy was your return?"
// first given in the period (a changed answer counts as it is now).
type FeedbackStats struct {
	Count        int64            `json:"count" example:"120" doc:"Answers."`
	Average      *float64         `json:"average,omitempty" example:"4.21" doc:"Mean ease, from 1 (very hard) to 5 (very easy), to two decimals; absent without answers."`
	Distribution []EaseCount      `json:"distribution" doc:"Answers per ease, 1 to 5."`
	ByReason     []ReasonComments `json:"comments_by_reason" doc:"The comments, under each reason of the return's items (a return with two reasons is under both); reasons without comments are left out."`
}

// EaseCount is how many answers gave one ease.
type EaseCount struct {
	Ease  int   `json:"ease" example:"5"`
	Count int64 `json:"count" example:"71"`
}

// ReasonComments are the comments on returns with items of one reason.
type ReasonComments struct {
	Reason returns.ReasonCode `json:"reason" enum:"too_small,too_large,not_as_described,damaged,wrong_item,changed_mind,arrived_late,other" example:"too_small"`
	// Count counts every comment under the reason; Comments lists the newest.
	Count    int64             `json:"count" example:"12"`
	Comments []FeedbackComment `json:"comments" doc:"Newest first, at most 20."`
}

// FeedbackComment is one shopper's comment.
type FeedbackComment struct {
	RMA     string    `json:"rma" db:"rma" example:"R-7KQ4-M2XD"`
	Ease    int       `json:"ease" db:"ease" example:"4"`
	Comment string    `json:"comment" db:"comment" example:"The label printed fine; the refund was quick."`
	At      time.Time `json:"at" db:"at" doc:"When the shopper last changed the answer."`
}

// Feedback summarises the feedback first given in the period.
func Feedback(ctx context.Context, q sqlx.QueryerContext, merchantID int64, p period.Period) (FeedbackStats, error) {
	out := FeedbackStats{Distribution: []EaseCount{}, ByReason: []ReasonComments{}}
	var rows []struct {
		Ease  int   `db:"ease"`
		Count int64 `db:"n"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT ease, count(*) AS n FROM return_feedback
		WHERE merchant_id = $1 AND created_at >= $2 AND ($3::timestamptz IS NULL OR created_at < $3)
		GROUP BY ease`, merchantID, p.From, nullTime(p.To)); err != nil {
		return out, fmt.Errorf("analytics: feedback: %w", err)
	}
	var sum int64
	for e := 1; e <= 5; e++ {
		c := EaseCount{Ease: e}
		for _, r := range rows {
			if r.Ease == e {
				c.Count = r.Count
			}
		}
		out.Count += c.Count
		sum += int64(e) * c.Count
		out.Distribution = append(out.Distribution, c)
	}
	if out.Count > 0 {
		avg := math.Round(float64(sum)/float64(out.Count)*100) / 100
		out.Average = &avg
	}
	var comments []struct {
		Reason string `db:"reason"`
		FeedbackComment
	}
	if err := sqlx.SelectContext(ctx, q, &comments, `SELECT DISTINCT i.reason, r.rma, f.ease, f.comment, f.updated_at AS at
		FROM return_feedback f JOIN returns r ON r.id = f.return_id JOIN return_items i ON i.return_id = f.return_id
		WHERE f.merchant_id = $1 AND f.created_at >= $2 AND ($3::timestamptz IS NULL OR f.created_at < $3) AND f.comment <> ''
		ORDER BY i.reason, at DESC, r.rma`, merchantID, p.From, nullTime(p.To)); err != nil {
		return out, fmt.Errorf("analytics: feedback comments: %w", err)
	}
	for _, rc := range returns.Reasons() {
		g := ReasonComments{Reason: rc.Code, Comments: []FeedbackComment{}}
		for _, c := range comments {
			if c.Reason != string(rc.Code) {
				continue
			}
			g.Count++
			if len(g.Comments) < CommentsPerReason {
				g.Comments = append(g.Comments, c.FeedbackComment)
			}
		}
		if g.Count > 0 {
			out.ByReason = append(out.ByReason, g)
		}
	}
	return out, nil
}
