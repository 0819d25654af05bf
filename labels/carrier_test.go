package labels

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

var _ Carrier = (*OwnCourier)(nil)

func TestOwnCourierIssue(t *testing.T) {
	c, err := NewOwnCourier("Northwind Courier", "zr", "gb")
	if err != nil {
		t.Fatal(err)
	}
	if c.Code() != "own" || c.Name() != "Northwind Courier" {
		t.Errorf("Code, Name = %q, %q", c.Code(), c.Name())
	}
	ctx := context.Background()
	got, err := c.Issue(ctx, IssueRequest{Serial: 12345678, Reference: "R-7KQ4-M2XD"})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Issued{TrackingNumber: "ZR123456785GB", Service: "Return"}); !reflect.DeepEqual(got, want) {
		t.Errorf("Issue = %+v, want %+v", got, want)
	}
	again, _ := c.Issue(ctx, IssueRequest{Serial: 12345678, Service: "Next day"})
	if again.TrackingNumber != got.TrackingNumber || again.Service != "Next day" {
		t.Errorf("second Issue = %+v, want the same number with service \"Next day\"", again)
	}
	for _, serial := range []int64{-1, MaxS10Serial + 1} {
		if got, err := c.Issue(ctx, IssueRequest{Serial: serial}); err == nil {
			t.Errorf("Issue(serial %d) = %+v, want an error", serial, got)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Issue(cancelled, IssueRequest{Serial: 1}); !errors.Is(err, context.Canceled) {
		t.Errorf("Issue on a cancelled context: %v, want context.Canceled", err)
	}
}

func TestOwnCourierVoid(t *testing.T) {
	c, err := NewOwnCourier("Northwind Courier", "ZR", "GB")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tn := range []string{"ZR123456785GB", "zr 123 456 785 gb"} {
		if _, err := c.Void(ctx, Booked{TrackingNumber: tn}); err != nil {
			t.Errorf("Void(%q) = %v, want nil", tn, err)
		}
	}
	for _, tn := range []string{"ZR123456786GB", "RR123456785GB", "ZR123456785DE", "", "nonsense"} {
		if _, err := c.Void(ctx, Booked{TrackingNumber: tn}); !errors.Is(err, ErrUnknownTracking) {
			t.Errorf("Void(%q) = %v, want ErrUnknownTracking", tn, err)
		}
	}
}

func TestNewOwnCourierRejects(t *testing.T) {
	for _, tc := range []struct{ name, indicator, country string }{
		{"", "ZR", "GB"},
		{"X", "Z", "GB"},
		{"X", "Z1", "GB"},
		{"X", "ZR", "GBR"},
	} {
		if c, err := NewOwnCourier(tc.name, tc.indicator, tc.country); err == nil {
			t.Errorf("NewOwnCourier(%q, %q, %q) = %+v, want an error", tc.name, tc.indicator, tc.country, c)
		}
	}
}
