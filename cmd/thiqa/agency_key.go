package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/thiqa/thiqa/internal/node"
	"github.com/thiqa/thiqa/signing"
)

// newAdminAgencyKeyCmds returns "thiqa admin agency rotate-key", "disable"
// and "enable": an operator's answers to a leaked key or a misbehaving
// agency.
func newAdminAgencyKeyCmds(g *globals) []*cobra.Command {
	// withService opens the node (serve must be stopped) and runs fn.
	withService := func(cmd *cobra.Command, fn func(*signing.Service) error) error {
		nd, _, err := node.Open(cmd.Context(), g.nodeOptions(false, nil))
		if errors.Is(err, node.ErrLocked) {
			return fmt.Errorf("%w: stop thiqa serve first", err)
		}
		if err != nil {
			return err
		}
		defer nd.Close()
		return fn(nd.Signing)
	}
	rotate := &cobra.Command{
		Use:   "rotate-key AGENCY",
		Short: "Give an agency a new API key (shown once); the old key stops working",
		Long: `rotate-key replaces the API key of the agency named by its ID or name. The new
key is printed once and kept only as a hash; the old key is refused from now
on. The webhook secret and the mutual TLS certificate stay. The change is
audited. Runs only while thiqa serve is stopped.`,
		Example: `  thiqa admin agency rotate-key "Ministry of Justice"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withService(cmd, func(s *signing.Service) error {
				k, err := s.RotateAgencyKey(cmd.Context(), args[0], "operator:cli")
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "agency %s (%s): new API key (shown once): %s\n", k.Agency.ID, k.Agency.Name, k.Key)
				return nil
			})
		},
	}
	state := func(use, short string, disabled bool) *cobra.Command {
		return &cobra.Command{
			Use:   use + " AGENCY",
			Short: short,
			Long: short + `. The agency is named by its ID or name; the change is
audited. Runs only while thiqa serve is stopped.`,
			Example: `  thiqa admin agency ` + use + ` "Ministry of Justice"`,
			Args:    cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return withService(cmd, func(s *signing.Service) error {
					a, err := s.SetAgencyDisabled(cmd.Context(), args[0], disabled, "operator:cli")
					if err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "agency %s (%s) %sd\n", a.ID, a.Name, use)
					return nil
				})
			},
		}
	}
	return []*cobra.Command{rotate,
		state("disable", "Refuse the agency's API key and certificate until it is enabled again", true),
		state("enable", "Accept the agency's API key and certificate again", false)}
}
