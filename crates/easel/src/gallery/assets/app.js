// The gallery page: fetches /gallery/api/jobs and follows /gallery/events.
