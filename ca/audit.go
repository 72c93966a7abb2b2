package ca

import (
	"context"
	"fmt"

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

// record appends an audit event when an auditor is configured. A failure is
// returned to the caller: an operation whose record is not durable is not
// reported done.
func (s *Service) record(ctx context.Context, action, subject string, details any) error {
	if s.opts.Audit == nil {
		return nil
	}
	if _, err := s.opts.Audit.Append(ctx, audit.Event{Actor: actorOf(ctx), Action: action, Subject: subject, Details: details}); err != nil {
		return fmt.Errorf("audit %s %s: %w", action, subject, err)
	}
	return nil
}
