package notify

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/roundtriphq/roundtrip/audit"
)

// What the audit trail says about changes to endpoints and deliveries; the API and
// the admin console record the same words.

// EndpointEntry is the audit entry of action on endpoint e, saying summary.
func EndpointEntry(action audit.Action, e WebhookEndpoint, summary string) audit.Entry {
	return audit.Entry{Action: action, Target: "webhook endpoint " + e.ID, Summary: summary}
}

// Describe says what an endpoint is, on one line: its URL, events and whether it is
// enabled.
func (e WebhookEndpoint) Describe() string {
	state := "enabled"
	if !e.Enabled {
		state = "disabled"
	}
	return fmt.Sprintf("%s · events: %s · %s", e.URL, eventWords(e.EnabledEvents), state)
}

func eventWords(ts []EventType) string {
	if len(ts) == 0 {
		return "all"
	}
	words := make([]string, len(ts))
	for i, t := range ts {
		words[i] = string(t)
	}
	return strings.Join(words, ", ")
}

// EndpointChanges says in words what differs between an endpoint before and after
// a change.
func EndpointChanges(before, after WebhookEndpoint) []string {
	var out []string
	if before.URL != after.URL {
		out = append(out, fmt.Sprintf("URL: %s → %s", before.URL, after.URL))
	}
	if before.Description != after.Description {
		out = append(out, fmt.Sprintf("Description: %q → %q", before.Description, after.Description))
	}
	if !slices.Equal(before.EnabledEvents, after.EnabledEvents) {
		out = append(out, fmt.Sprintf("Events: %s → %s", eventWords(before.EnabledEvents), eventWords(after.EnabledEvents)))
	}
	if before.Enabled != after.Enabled {
		if after.Enabled {
			out = append(out, "Enabled")
		} else {
			out = append(out, "Disabled")
		}
	}
	return out
}

// RotationSummary says what a secret rotation did.
func RotationSummary(e WebhookEndpoint) string {
	if e.PreviousSecretExpiresAt == nil {
		return "New signing secret; the previous one stopped signing at once."
	}
	return "New signing secret; the previous one also signs until " + e.PreviousSecretExpiresAt.UTC().Format(time.RFC3339) + "."
}

// DeliveryEntry is the audit entry of a delivery sent again by hand.
func DeliveryEntry(d WebhookDelivery) audit.Entry {
	return audit.Entry{Action: audit.DeliveryRetried, Target: "webhook delivery " + d.ID,
		Summary: fmt.Sprintf("%s event %s to endpoint %s, sent again now", d.EventType, d.EventID, d.EndpointID)}
}
