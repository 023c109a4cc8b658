package core

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// NewObjectID returns a random 24-hex-digit identifier, the shape
// LaunchDarkly uses for member, project, environment and metric IDs.
func NewObjectID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Clock tells the time. Services take one so that tests can fix it.
type Clock func() time.Time

// SystemClock is the wall clock in UTC at the millisecond precision the API
// renders.
func SystemClock() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }
