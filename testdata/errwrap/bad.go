// Package errwrap holds planted mistakes for TestErrorsKeepTheirCause:
// every line marked "want" formats an error into an error's text.
package errwrap

import (
	"context"
	"errors"
	"fmt"

	"github.com/greenmint/greenmint"
)

var errBase = errors.New("base")

// Cases returns errors made every way, right and wrong.
func Cases(ctx context.Context, err error, name string) []error {
	return []error{
		fmt.Errorf("reading %s: %v", name, err),                                               // want
		fmt.Errorf("reading %s: %s", name, err.Error()),                                       // want
		fmt.Errorf("reading %[2]s: %[1]v", err, name),                                         // want
		fmt.Errorf("%*d items: %v", 3, 4, err),                                                // want
		greenmint.Errorf(greenmint.EUNAVAILABLE, "not ordered: %v", ctx.Err()),                // want
		greenmint.Errorf(greenmint.EINVALID, "bad %s: %s", name, errBase),                     // want
		greenmint.E(greenmint.EINVALID, "op", nil, "bad: %v", err),                            // want
		unauthenticated("proposal: %v", err),                                                  // want
		fmt.Errorf("reading %s: %w", name, err),                                               // right
		fmt.Errorf("%w; and then: %w", err, errBase),                                          // right
		fmt.Errorf("reading %[2]s: %[1]w", err, name),                                         // right
		greenmint.E(greenmint.EUNAVAILABLE, "op", ctx.Err(), "not ordered"),                   // right
		greenmint.Errorf(greenmint.EINVALID, "bad %s: %s", name, greenmint.ErrorMessage(err)), // a string, not the error
		greenmint.Errorf(greenmint.EINVALID, "100%% of %s", name),                             // right
	}
}

func unauthenticated(format string, args ...any) error {
	return greenmint.Errorf(greenmint.EUNAUTHENTICATED, format, args...)
}
