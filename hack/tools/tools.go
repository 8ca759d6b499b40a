//go:build tools

// Keeps helm's main package in go.mod/go.sum; never compiled.
package tools

import (
	_ "helm.sh/helm/v4/cmd/helm"
)
