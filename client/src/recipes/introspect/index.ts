export { participantsOf } from './introspect.js';
export type { ParticipantView, ParticipantsOfOptions, PathParticipants, RecipeKind } from './introspect.js';
