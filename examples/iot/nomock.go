//go:build nomock

package main

import (
	"errors"
	"io"
)

func startEmbedded(io.Writer) (network, error) {
	return nil, errors.New("built without the embedded server (-tags nomock): give -url")
}
