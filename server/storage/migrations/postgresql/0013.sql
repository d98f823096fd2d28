-- 13: the declared index's video and audio entries are read by media type (clip_match's declared clips, every
-- video or audio lookup checks whether they changed)
CREATE INDEX declared_media_type ON declared_media (media_type, id);
