package returns_test

import (
	"errors"
	"fmt"

	"github.com/roundtriphq/roundtrip/returns"
)

func ExampleNext() {
	s := returns.StateApproved
	for _, ev := range []returns.Event{
		returns.EventCarrierScan,
		returns.EventReceiveAll,
		returns.EventResolve,
		returns.EventComplete,
	} {
		next, err := returns.Next(s, ev)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s --%s--> %s\n", s, ev, next)
		s = next
	}

	_, err := returns.Next(s, returns.EventCancel)
	var te *returns.TransitionError
	if errors.As(err, &te) {
		fmt.Println(err)
		fmt.Println("allowed:", te.From.Allowed())
	}
	// Output:
	// approved --carrier_scan--> in_transit
	// in_transit --receive_all--> received
	// received --resolve--> resolving
	// resolving --complete--> completed
	// returns: cannot cancel a return that is completed
	// allowed: [refund_fail]
}
