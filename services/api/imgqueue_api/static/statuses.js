// A job's statuses (and a webhook message's), generated from shared/imgqueue/status.py by `make generate`: do not edit.
"use strict";
const STATUS = Object.freeze({DELAYED: "delayed", QUEUED: "queued", PROCESSING: "processing", RETRYING: "retrying", DONE: "done", FAILED: "failed", CANCELLED: "cancelled"});
const TERMINAL = new Set(["done", "failed", "cancelled"]);
const NEXT = Object.freeze({delayed: ["queued", "cancelled"], queued: ["processing", "done", "failed", "cancelled"], processing: ["queued", "retrying", "done", "failed", "cancelled"], retrying: ["queued", "processing", "done", "failed", "cancelled"], done: [], failed: ["queued"], cancelled: ["queued"]});
const DELIVERY = Object.freeze({PENDING: "pending", DELIVERED: "delivered", DEAD: "dead"});
