package audit

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"sigs.k8s.io/yaml"
)

// Formats are the formats Print writes.
var Formats = []string{"table", "json", "yaml"}

// Print writes the report as format: "table" (a row per cluster, as
// kubectl prints, then the collisions), "json" or "yaml".
func Print(w io.Writer, r *Report, format string) error {
	switch format {
	case "json":
		raw, err := json.MarshalIndent(r, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", raw)
		return err
	case "yaml":
		raw, err := yaml.Marshal(r)
		if err != nil {
			return err
		}
		_, err = w.Write(raw)
		return err
	case "table":
		return printTable(w, r)
	}
	return fmt.Errorf("output format %q is not one: use %s", format, strings.Join(Formats, ", "))
}

func printTable(w io.Writer, r *Report) error {
	if len(r.Clusters) == 0 {
		_, err := fmt.Fprintln(w, "No Flink clusters found.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tCLUSTER-ID\tMODE\tFLINK\tHA\tSTORAGE-DIR\tACCOUNT\tHA-RIGHTS\tHA-CONFIGMAPS\tPOLICY\tAT-RISK")
	for _, c := range r.Clusters {
		owned := 0
		for _, h := range c.HAConfigMaps {
			if len(h.Owners) > 0 {
				owned++
			}
		}
		cms := fmt.Sprint(len(c.HAConfigMaps))
		if owned > 0 {
			cms += fmt.Sprintf(" (%d owned)", owned)
		}
		rights, _, _ := strings.Cut(c.Rights, ":")
		policyCol := c.Policy.Result
		if n := len(c.Policy.Violations); n > 0 {
			policyCol += fmt.Sprintf(" (%d)", n)
		} else if n := len(c.Policy.Changes); n > 0 {
			policyCol += fmt.Sprintf(" (%d)", n)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Namespace, none(c.ClusterID), none(string(c.Mode)),
			none(c.FlinkVersion), none(string(c.HA)), none(c.StorageDir), none(c.Account), none(rights), cms, policyCol,
			none(strings.Join(c.AtRisk, ",")))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Collisions) > 0 {
		fmt.Fprintln(w, "\nCollisions:")
		for _, c := range r.Collisions {
			fmt.Fprintln(w, "  "+c.Message())
		}
	}
	return nil
}

// none prints an empty value as kubectl does.
func none(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
