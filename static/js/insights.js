// see-inside views
