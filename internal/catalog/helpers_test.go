package catalog

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
