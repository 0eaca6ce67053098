"""Use cases. Each public function is one transaction, owned here; routes and jobs call these."""
