package notify

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Headers of a signed webhook request, per the Standard Webhooks specification.
const (
	// HeaderID carries the event's ID; it is the same on every attempt.
	HeaderID = "webhook-id"
	// HeaderTimestamp carries the time of the attempt in Unix seconds.
	HeaderTimestamp = "webhook-timestamp"
	// HeaderSignature carries one "v1,<base64 HMAC-SHA256>" per signing secret,
	// separated by spaces.
	HeaderSignature = "webhook-signature"
)

// secretPrefix starts every signing secret, as Standard Webhooks libraries expect.
const secretPrefix = "whsec_"

// secretBytes is the length of the HMAC key: the specification asks for 24 to 64.
const secretBytes = 32

// newSecret returns a fresh signing secret: whsec_ and the base64 of a random key.
func newSecret() string {
	key := make([]byte, secretBytes)
	rand.Read(key)
	return secretPrefix + base64.StdEncoding.EncodeToString(key)
}

// Sign returns the webhook-signature value for a message: for each secret,
// "v1," and the base64 HMAC-SHA256 of "<id>.<unix seconds>.<body>" keyed with the
// base64-decoded part of the secret after whsec_. Several secrets (during a
// rotation) give several signatures, separated by spaces; a receiver accepts the
// message when any of them verifies.
func Sign(id string, ts time.Time, body []byte, secrets ...string) (string, error) {
	if len(secrets) == 0 {
		return "", errors.New("notify: sign: no secret")
	}
	sigs := make([]string, 0, len(secrets))
	for _, secret := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
		if err != nil || len(key) == 0 {
			return "", errors.New("notify: sign: the secret is not whsec_ followed by base64")
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id))
		mac.Write([]byte{'.'})
		mac.Write(strconv.AppendInt(nil, ts.Unix(), 10))
		mac.Write([]byte{'.'})
		mac.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(sigs, " "), nil
}
