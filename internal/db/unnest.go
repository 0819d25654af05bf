package db

import "strings"

// Unnest is a FROM item of the rows unnest(arrays...) gives, for a batch passed as
// arrays and joined to a table by key (an UPDATE … FROM, a join to each row's
// look-up): name its columns after it, as for unnest (Unnest(…) + " AS x(a, b)").
//
// Why not unnest itself: a connection keeps a statement's generic plan, made once
// for any parameters, only when it costs no more than the custom plans made for
// the parameters of its first runs. In a generic plan PostgreSQL cannot know how
// long the arrays are and guesses ten rows, ten look-ups; a custom plan knows them.
// Where batches are short (one or two rows: a replica among several, a quiet
// moment) ten look-ups always cost more, and the statement is planned again at
// every run: 0.3–0.75 ms of PostgreSQL's CPU a run for the statements that join a
// batch (BENCHMARKS.md, twenty-fourth pass). Unnest adds a LIMIT of the longest
// array's length, which cuts nothing; a generic plan cannot reckon that count
// either and takes a tenth of the ten rows, one, so it costs what a one-row batch
// costs and the connection keeps it. A custom plan still knows the length. The plan
// itself does not change: each row's look-up by its key's index.
func Unnest(arrays ...string) string {
	var b strings.Builder
	b.WriteString("(SELECT * FROM unnest(")
	b.WriteString(strings.Join(arrays, ", "))
	b.WriteString(") LIMIT greatest(")
	for i, a := range arrays {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("cardinality(" + a + ")")
	}
	b.WriteString("))")
	return b.String()
}
