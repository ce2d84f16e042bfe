// A job's statuses, generated from shared/imgqueue/status.py by `make generate`: do not edit.
"use strict";
const STATUS = Object.freeze({QUEUED: "queued", PROCESSING: "processing", RETRYING: "retrying", DONE: "done", FAILED: "failed"});
const TERMINAL = new Set(["done", "failed"]);
const NEXT = Object.freeze({queued: ["processing", "done", "failed"], processing: ["queued", "retrying", "done", "failed"], retrying: ["queued", "processing", "done", "failed"], done: [], failed: []});
