// argolua runs an Argo CD resource health script the way Argo CD does (argoproj/argo-cd util/lua/lua.go): a
// gopher-lua state without the standard libraries except package, base and table (a custom check in argocd-cm
// runs without open libraries; Argo CD also loads a reduced os library, left out here), the object as the global
// `obj` (JSON numbers as Lua numbers), a 1 s limit, and the returned table read as {status, message}. A status
// outside Argo CD's set becomes Unknown with Argo CD's message.
//
// Usage: kubectl get acraccess x -o json | argolua deploy/argocd/health.lua
// Input: one object or a List (`items`) as JSON on stdin. Output: one JSON line per object:
// {"kind":"AcrAccess","namespace":"ns","name":"x","status":"Healthy","message":"..."}
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// The health codes Argo CD accepts from a script (gitops-engine pkg/health).
var valid = map[string]bool{
	"Unknown": true, "Progressing": true, "Suspended": true, "Healthy": true, "Degraded": true, "Missing": true,
}

type verdict struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	Message   string `json:"message"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: argolua <health.lua> < object.json")
		os.Exit(2)
	}
	script, err := os.ReadFile(os.Args[1])
	if err == nil {
		err = run(string(script), os.Stdin, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "argolua:", err)
		os.Exit(1)
	}
}

func run(script string, in io.Reader, out io.Writer) error {
	var doc map[string]any
	if err := json.NewDecoder(in).Decode(&doc); err != nil {
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
		status, message, err := health(script, o)
		if err != nil {
			return err
		}
		meta, _ := o["metadata"].(map[string]any)
		ns, _ := meta["namespace"].(string)
		name, _ := meta["name"].(string)
		kind, _ := o["kind"].(string)
		if err := enc.Encode(verdict{kind, ns, name, status, message}); err != nil {
			return err
		}
	}
	return nil
}

func health(script string, obj map[string]any) (string, string, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for name, open := range map[string]lua.LGFunction{
		lua.LoadLibName: lua.OpenPackage, lua.BaseLibName: lua.OpenBase, lua.TabLibName: lua.OpenTable,
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(open), NRet: 0, Protect: true}, lua.LString(name)); err != nil {
			return "", "", err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", decode(l, obj))
	if err := l.DoString(script); err != nil {
		return "", "", err
	}
	ret, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return "", "", fmt.Errorf("expect table output from Lua script, not %s", l.Get(-1).Type())
	}
	status := lua.LVAsString(ret.RawGetString("status"))
	message := lua.LVAsString(ret.RawGetString("message"))
	if !valid[status] {
		return "Unknown", "Lua returned an invalid health status", nil
	}
	return status, message, nil
}

// decode mirrors Argo CD's decodeValue: maps to tables, arrays to sequences, numbers to Lua numbers.
func decode(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []any:
		arr := l.CreateTable(len(v), 0)
		for _, item := range v {
			arr.Append(decode(l, item))
		}
		return arr
	case map[string]any:
		tbl := l.CreateTable(0, len(v))
		for key, item := range v {
			tbl.RawSetH(lua.LString(key), decode(l, item))
		}
		return tbl
	}
	return lua.LNil
}
