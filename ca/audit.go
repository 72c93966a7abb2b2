package ca

import (
	"context"

	"github.com/thiqa/thiqa/audit"
)

// Auditor records security events durably (package audit's *Log).
type Auditor interface {
	Append(ctx context.Context, e audit.Event) (audit.Receipt, error)
}

type actorKey struct{}

// WithActor names who acts in ctx for the audit log ("officer:alice",
// "operator:admin-socket", "citizen:<identity id>"). It carries an
// identifier, never a service. Without it the actor is "ca".
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

func actorOf(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return "ca"
}
