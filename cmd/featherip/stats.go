package main

import (
	"fmt"
	"io"
	"reflect"
	"sort"
)

// printCounters writes every counter of v (a struct of structs of unsigned
// integers, like featherip.Stats) one per line as "Group.Name value",
// each group introduced by a "[Group]" line.
func printCounters(w io.Writer, v any) {
	walkCounters(w, "", reflect.ValueOf(v), true)
}

func walkCounters(w io.Writer, prefix string, v reflect.Value, top bool) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkCounters(w, prefix, v.Elem(), top)
		}
	case reflect.Struct:
		t := v.Type()
		header := false
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := f.Name
			if prefix != "" {
				name = prefix + "." + f.Name
			}
			fv := v.Field(i)
			if fv.Kind() == reflect.Struct {
				walkCounters(w, name, fv, false)
				continue
			}
			if !header && prefix != "" {
				fmt.Fprintf(w, "[%s]\n", prefix)
				header = true
			}
			walkCounters(w, name, fv, false)
		}
	case reflect.Array, reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			e := v.Index(i)
			if v.Len() > 32 && e.CanUint() && e.Uint() == 0 {
				continue // a big per-type table: print the used entries
			}
			walkCounters(w, fmt.Sprintf("%s[%d]", prefix, i), e, false)
		}
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, k := range keys {
			walkCounters(w, fmt.Sprintf("%s[%v]", prefix, k), v.MapIndex(k), false)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		fmt.Fprintf(w, "%s %d\n", prefix, v.Uint())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		fmt.Fprintf(w, "%s %d\n", prefix, v.Int())
	default:
		fmt.Fprintf(w, "%s %v\n", prefix, v.Interface())
	}
}
