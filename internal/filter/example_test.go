package filter_test

import (
	"fmt"

	"github.com/metricsd/metricsd/internal/filter"
)

func ExampleParse() {
	e, err := filter.Parse(`tags contains ["a","b"] and isNumeric equals true, query equals 'checkout'`)
	if err != nil {
		fmt.Println(err)
		return
	}
	spec := filter.Spec{
		"tags":      filter.Ops("contains", "anyOf"),
		"isNumeric": filter.Ops("equals"),
		"query":     filter.Ops("equals").Repeated(),
	}
	if err := e.Check(spec); err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range e.Clauses {
		switch c.Field {
		case "tags":
			tags, _ := c.Value.AsStrings()
			fmt.Printf("%s %s %q\n", c.Field, c.Op, tags)
		case "isNumeric":
			b, _ := c.Value.AsBool()
			fmt.Printf("%s %s %v\n", c.Field, c.Op, b)
		default:
			s, _ := c.Value.AsString()
			fmt.Printf("%s %s %q\n", c.Field, c.Op, s)
		}
	}

	_, err = filter.Parse("tags contains a and")
	fmt.Println(err)
	// Output:
	// tags contains ["a" "b"]
	// isNumeric equals true
	// query equals "checkout"
	// invalid filter at position 19: expected a field name after "and", found end of input
}
