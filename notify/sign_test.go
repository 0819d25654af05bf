package notify_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/roundtriphq/roundtrip/notify"
)

// The reference library's own test secret and payload.
const (
	refSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	oldSecret = "whsec_c2VjcmV0LWZyb20tYmVmb3JlLXRoZS1yb3RhdGlvbg=="
)

func headers(id string, ts time.Time, sig string) http.Header {
	h := http.Header{}
	h.Set(notify.HeaderID, id)
	h.Set(notify.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(notify.HeaderSignature, sig)
	return h
}

func TestSignVerifiesWithTheReferenceLibrary(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":"evt_1","type":"return.approved","data":{"id":1042}}`)
	now := time.Now()
	sig, err := notify.Sign("evt_1", now, body, refSecret)
	if err != nil {
		t.Fatal(err)
	}
	wh, err := standardwebhooks.NewWebhook(refSecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(body, headers("evt_1", now, sig)); err != nil {
		t.Fatalf("the reference library refuses %q: %v", sig, err)
	}
	// and it is exactly the reference library's own signature
	want, err := wh.Sign("evt_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	if sig != want {
		t.Fatalf("got %q, want the reference %q", sig, want)
	}
	for name, h := range map[string]http.Header{
		"other body":      headers("evt_1", now, sig),
		"other id":        headers("evt_2", now, sig),
		"other timestamp": headers("evt_1", now.Add(-time.Second), sig),
	} {
		b := body
		if name == "other body" {
			b = []byte(strings.Replace(string(body), "1042", "1043", 1))
		}
		if err := wh.Verify(b, h); err == nil {
			t.Errorf("%s: verified, want refused", name)
		}
	}
}

func TestSignDuringRotationCarriesBothSignatures(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":"evt_9"}`)
	now := time.Now()
	sig, err := notify.Sign("evt_9", now, body, refSecret, oldSecret)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Fields(sig)); n != 2 {
		t.Fatalf("got %d signatures in %q, want 2", n, sig)
	}
	for _, secret := range []string{refSecret, oldSecret} {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(body, headers("evt_9", now, sig)); err != nil {
			t.Errorf("a receiver with %s refuses %q: %v", secret, sig, err)
		}
	}
}

func TestSignRefusesABadSecret(t *testing.T) {
	t.Parallel()
	for _, secret := range []string{"", "whsec_", "whsec_not base64!"} {
		if _, err := notify.Sign("evt_1", time.Now(), nil, secret); err == nil {
			t.Errorf("secret %q: signed, want an error", secret)
		}
	}
	if _, err := notify.Sign("evt_1", time.Now(), nil); err == nil {
		t.Error("no secret: signed, want an error")
	}
}

func TestBackoffReachesThreeDays(t *testing.T) {
	t.Parallel()
	// walk the schedule as the worker does: the next attempt is due Backoff(n) after
	// the n-th failure, and none is made after RetryWindow
	for range 50 {
		var at time.Duration
		attempts := 1
		for n := 1; ; n++ {
			d := notify.Backoff(n)
			if d <= 0 || d > 12*time.Hour {
				t.Fatalf("Backoff(%d) = %s, want between 0 and 12h", n, d)
			}
			if at+d > notify.RetryWindow {
				break
			}
			at += d
			attempts++
		}
		if attempts < 16 || attempts > 18 || at < 60*time.Hour {
			t.Fatalf("%d attempts, the last after %s; want 16 to 18 over nearly three days", attempts, at)
		}
	}
}
