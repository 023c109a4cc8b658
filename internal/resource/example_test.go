package resource_test

import (
	"fmt"

	"github.com/metricsd/metricsd/internal/resource"
)

func ExampleSpec_Matches() {
	pattern, err := resource.Parse("proj/*:metric/check*;web,revenue")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(pattern)

	for _, r := range []resource.Spec{
		resource.Metric("default", "checkout", []string{"revenue", "web", "q3"}),
		resource.Metric("default", "checkout", []string{"revenue"}),
		resource.Metric("default", "latency", []string{"revenue", "web"}),
		resource.MetricGroup("default", "checkout", []string{"revenue", "web"}),
	} {
		fmt.Printf("%s: %v\n", r, pattern.Matches(r))
	}

	_, err = resource.Parse("proj/default:flag/f")
	fmt.Println(err)
	// Output:
	// proj/*:metric/check*;revenue,web
	// proj/default:metric/checkout;q3,revenue,web: true
	// proj/default:metric/checkout;revenue: false
	// proj/default:metric/latency;revenue,web: false
	// proj/default:metric-group/checkout;revenue,web: false
	// resource specifier: at position 13: resource kind "flag" must directly follow "env"
}
