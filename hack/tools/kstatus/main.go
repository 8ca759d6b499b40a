// kstatus prints the kstatus verdict (Current, InProgress, Failed, ...) of Kubernetes objects, computed by
// sigs.k8s.io/cli-utils/pkg/kstatus/status: the library behind Flux's `wait: true` / healthChecks and kpt.
//
// Usage: kubectl get acraccess -A -o json | kstatus
// Input: one object or a List (`items`) as JSON on stdin. Output: one JSON line per object:
// {"kind":"AcrAccess","namespace":"ns","name":"x","status":"Current","message":"..."}
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type verdict struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	Message   string `json:"message"`
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kstatus:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	data, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	// Whole numbers as int64, as client-go's unstructured objects hold them (kstatus reads generation as int64).
	var doc map[string]any
	if err := utiljson.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("reading a JSON object from stdin: %w", err)
	}
	objects := []map[string]any{doc}
	if items, ok := doc["items"].([]any); ok {
		objects = objects[:0]
		for _, item := range items {
			if m, ok := item.(map[string]any); ok {
				objects = append(objects, m)
			}
		}
	}
	enc := json.NewEncoder(out)
	for _, o := range objects {
		u := &unstructured.Unstructured{Object: o}
		res, err := status.Compute(u)
		if err != nil {
			return fmt.Errorf("%s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
		v := verdict{u.GetKind(), u.GetNamespace(), u.GetName(), res.Status.String(), res.Message}
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
	return nil
}
