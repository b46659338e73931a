"""Use cases of the identity service.

`candidate` (consent, photos, 开始认证, 申请人工审核), `worker` (the queued comparisons),
`staff` (manual review, photo reads, audit), `retention` (deleting expired photos),
`projection` (registration's facts), `engine` (the process's face engine), `app` (assembly).
"""
