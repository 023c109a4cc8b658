package account

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
