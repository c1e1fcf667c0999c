variable "name" {
  type        = string
  description = "Name of the connection, e.g. `global-sovereign-ams-iad`."
}

variable "requester" {
  type = object({
    region          = string
    vpc_id          = string
    cidr            = string
    route_table_ids = list(string)
  })
  description = "The VPC that requests the connection, and the route tables that get a route to the accepter."
}

variable "accepter" {
  type = object({
    region          = string
    vpc_id          = string
    cidr            = string
    route_table_ids = list(string)
  })
  description = "The VPC that accepts the connection, and the route tables that get a route to the requester."
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource."
  default     = {}
}
