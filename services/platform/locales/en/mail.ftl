mail-invitation-subject = Invitation to online guidance from { $organization }
mail-invitation-body = { $organization } invites you to a secure online guidance workspace in Ohjaus. To accept, open the link below and identify yourself with Suomi.fi identification (online banking codes, mobile certificate or an ID card). The link works until { $expires } and only once.
mail-invitation-ignore = If you were not expecting this invitation, you can ignore this message. No personal information is included in this email.
mail-new-messages-subject = You have new messages in Ohjaus
mail-new-messages-body = { $count ->
    [one] There is a new message for you
   *[other] There are { $count } new messages for you
} in your online guidance workspace. Log in to read { $count ->
    [one] it
   *[other] them
}.
mail-new-messages-privacy = For your privacy, the messages themselves are never sent by email.
mail-link = Open Ohjaus
mail-consent-requested-subject = Your consent is asked in Ohjaus
mail-consent-requested-body = Your guide would like another professional to join your online guidance workspace. Nobody joins without your consent. Log in to see who and why, and to accept or decline.
mail-consent-decided-subject = A consent request was answered in Ohjaus
mail-consent-decided-body = A customer has answered, changed or withdrawn a consent in a workspace you own. Log in to see the decision.
mail-consent-privacy = For your privacy, names and reasons are never sent by email.
mail-handed-over-subject = Your online guidance workspace has a new guide
mail-handed-over-body = Your online guidance workspace has been handed over to another guide of the same organisation, for example because your previous guide has left or is away. Your new guide can read the workspace. Log in to see who your guide is now and who has used your workspace.
mail-handed-over-privacy = For your privacy, names are never sent by email.
mail-closing-subject = Your online guidance workspace will close soon
mail-closing-body = Nobody has logged in to your online guidance workspace for a long time, so it will be closed in { $days } days. To keep it open, log in and open the workspace before then. A closed workspace can be reopened by the guide for a while, and you can still download its content.
mail-archiving-subject = Your closed online guidance workspace will be archived soon
mail-archiving-body = Your closed online guidance workspace will be archived in { $days } days. After that the guides can no longer see it or reopen it; you can still see it and download its content until it is deleted permanently.
mail-retention-privacy = For your privacy, no content of the workspace is sent by email.

## rounds (3X10D)
mail-round-asked-subject = You have a questionnaire in Ohjaus
mail-round-asked-body = Your guide asks you to answer a short questionnaire about your life situation in your online guidance workspace. You can answer when it suits you, save your answers and continue later.
mail-round-asked-privacy = For your privacy, the questionnaire itself is never sent by email.
