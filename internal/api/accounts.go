package api

// accountRoutes lists the member and team routes.
func (s *Server) accountRoutes() []route { return nil }
